"""`paperscope fetch` against a local HTTP server standing in for export.arxiv.org and
huggingface.co. It serves the fixtures page by page in the services' own layouts:
tests/data/arxiv-api-response.xml is laid out as arXiv's Atom API answers (see the comment in it),
tests/data/hf-api-daily-papers.json as /api/daily_papers answers (a list of {"paper": {id, authors,
publishedAt, submittedOnDailyAt, title, submittedOnDailyBy, summary, upvotes, discussionId,
ai_summary, ai_keywords, organization…}, publishedAt, title, summary, thumbnail, numComments,
submittedBy, organization, isAuthorParticipating} items, as a saved response of 2026 shows them).
The index is a real embedded Chroma with the fake embedder, except in the CLI test."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import FakeEmbedding

from assistant.cli import main
from assistant.errors import FetchError
from assistant.index import PaperIndex
from assistant.settings import Settings
from ingest.download import Downloader
from ingest.fetch import fetch_arxiv, fetch_daily_papers
from ingest.pipeline import ingest
from ingest.reading import read_sources
from tests.servers import free_port

DATA = Path(__file__).parent / "data"
ARXIV_FEED = DATA / "arxiv-api-response.xml"
DAILY = DATA / "hf-api-daily-papers.json"
TODAY = date(2025, 11, 20)  # every window in these tests is over: saved pages are final
# arXiv's answer to a malformed query, as its API manual shows it: HTTP 200 and one entry titled Error
ERROR_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <opensearch:totalResults>1</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/api/errors#max_results_must_be_an_integer</id>
    <title>Error</title>
    <summary>max_results must be an integer</summary>
    <updated>2025-11-20T00:00:00-05:00</updated>
    <link href="http://arxiv.org/api/errors#max_results_must_be_an_integer" rel="alternate" type="text/html"/>
    <author>
      <name>arXiv api core</name>
    </author>
  </entry>
</feed>
"""


class Services:
    """What the stand-in server was asked, and the answers it is told to give instead of the data:
    a status code, "drop" (close the connection without answering) or None (answer normally)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: list[dict[str, Any]] = []
        self.faults: list[int | str | None] = []
        self.error_feed = False
        text = ARXIV_FEED.read_text()
        self.head, self.tail = text[:text.index("  <entry>")], "</feed>\n"
        self.entries = re.findall(r"  <entry>.*?</entry>\n", text, flags=re.DOTALL)
        self.daily = json.loads(DAILY.read_text())

    def arxiv(self, params: dict[str, str]) -> bytes:
        if self.error_feed:
            return ERROR_FEED.encode()
        start, size = int(params["start"]), int(params["max_results"])
        head = re.sub(r"<opensearch:itemsPerPage>\d+<", f"<opensearch:itemsPerPage>{size}<", self.head)
        head = re.sub(r"<opensearch:startIndex>\d+<", f"<opensearch:startIndex>{start}<", head)
        return (head + "".join(self.entries[start:start + size]) + self.tail).encode()

    def daily_papers(self, params: dict[str, str]) -> bytes:
        page, limit = int(params.get("p", 0)), int(params.get("limit", 50))
        return json.dumps(self.daily[page * limit:(page + 1) * limit], separators=(",", ":")).encode()

    def starts(self) -> list[int]:
        return [int(r["params"]["start"]) for r in self.requests]


@pytest.fixture
def services() -> Iterator[Services]:
    box: list[Services] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            served = box[0]
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            served.requests.append({"path": url.path, "params": params, "headers": dict(self.headers),
                                    "time": time.monotonic()})
            fault = served.faults.pop(0) if served.faults else None
            if fault == "drop":
                self.close_connection = True
                return
            if isinstance(fault, int):
                self._answer(fault, b"Service Unavailable", "text/plain", {"Retry-After": "0"})
            elif url.path == "/api/query":
                self._answer(200, served.arxiv(params), "application/atom+xml; charset=utf-8")
            elif url.path == "/api/daily_papers":
                self._answer(200, served.daily_papers(params), "application/json; charset=utf-8")
            else:
                self._answer(404, b"Not Found", "text/plain")

        def _answer(self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Services(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def fetch_settings(paperscope_home: Path, services: Services) -> Settings:
    return Settings(home=paperscope_home, arxiv_api_url=f"{services.url}/api/query",
                    daily_papers_url=f"{services.url}/api/daily_papers", fetch_delay=0, fetch_backoff=0,
                    arxiv_page_size=2, daily_papers_page_size=2)


def records(settings: Settings) -> dict[str, dict[str, Any]]:
    return {r["paper_id"]: r for r in PaperIndex(settings, embedder=FakeEmbedding()).catalog().records}


def test_arxiv_pages_through_the_window_and_ingests_it(fetch_settings: Settings, services: Services) -> None:
    report = fetch_arxiv(fetch_settings, "cs.LG", date(2025, 1, 1), date(2025, 2, 28), embedder=FakeEmbedding(),
                         today=TODAY)
    assert services.starts() == [0, 2, 4]
    first = services.requests[0]
    assert first["path"] == "/api/query"
    assert first["params"] == {"search_query": "cat:cs.LG AND submittedDate:[202501010000 TO 202502282359]",
                               "start": "0", "max_results": "2", "sortBy": "submittedDate", "sortOrder": "ascending"}
    assert first["headers"]["User-Agent"].startswith("PaperScope/")
    assert (report.pages, report.downloaded, report.reused, report.requests, report.entries, report.kept) == (
        3, 3, 0, 3, 5, 2)
    assert (report.ingest.papers, report.ingest.added, report.ingest.failed) == (2, 2, [])

    stored = records(fetch_settings)
    assert sorted(stored) == ["arxiv-2501.12948", "arxiv-2502.01456"]
    prime = stored["arxiv-2502.01456"]
    assert (prime["title"], prime["published"], prime["authors"]) == (
        "Process Reinforcement through Implicit Rewards", "2025-02-03", 23)
    assert prime["author_names"].startswith("Ganqu Cui; Lifan Yuan; Zefan Wang")
    assert (prime["categories"], prime["url"]) == ("cs.LG cs.AI cs.CL", "https://arxiv.org/abs/2502.01456")
    assert prime["sources"] == "arxiv-cs.LG-2025-01-01-to-2025-02-28.xml"
    assert Path(report.files[0]).name == prime["sources"]
    summary = report.to_json()
    assert (summary["added"], summary["fetch"]["kept"], summary["fetch"]["requests"]) == (2, 2, 3)


def test_dates_and_max_limit_what_is_kept(fetch_settings: Settings, services: Services) -> None:
    january = fetch_arxiv(fetch_settings, "cs.LG", date(2025, 1, 1), date(2025, 1, 31), embedder=FakeEmbedding(),
                          today=TODAY)
    assert january.kept == 1 and sorted(records(fetch_settings)) == ["arxiv-2501.12948"]
    assert services.starts() == [0, 2]  # the page holding a February paper ends the (oldest-first) window

    services.requests.clear()
    oldest = fetch_arxiv(fetch_settings, "cs.LG", date(2023, 1, 1), date(2025, 12, 31), max_papers=2,
                         embedder=FakeEmbedding(), today=TODAY)
    assert oldest.kept == 2 and services.starts() == [0, 2]  # 2017 is before the window; 2023 and 2025 kept
    assert {"arxiv-2312.02179", "arxiv-2501.12948"} <= set(records(fetch_settings))
    assert "arxiv-1706.03762" not in records(fetch_settings)

    with pytest.raises(FetchError, match="after --until"):
        fetch_arxiv(fetch_settings, "cs.LG", date(2025, 3, 1), date(2025, 2, 1), today=TODAY)
    with pytest.raises(FetchError, match="not an arXiv category"):
        fetch_arxiv(fetch_settings, "cs.LG OR all:x", date(2025, 1, 1), today=TODAY)


def test_503_and_a_dropped_connection_are_retried(fetch_settings: Settings, services: Services) -> None:
    services.faults = [None, 503, "drop"]
    notes: list[str] = []
    report = fetch_arxiv(fetch_settings, "cs.LG", date(2025, 1, 1), date(2025, 2, 28), embedder=FakeEmbedding(),
                         note=notes.append, today=TODAY)
    assert services.starts() == [0, 2, 2, 2, 4]
    assert (report.requests, report.kept, report.ingest.added) == (5, 2, 2)
    assert len(notes) == 2 and "answered 503 Service Unavailable; retrying" in notes[0]
    assert "connection failed mid-answer" in notes[1] and "(retry 2 of 4)" in notes[1]


def test_retry_after_is_honoured(fetch_settings: Settings, services: Services) -> None:
    services.faults = [429]
    waits: list[float] = []
    with Downloader(fetch_settings, "arXiv", sleep=waits.append) as downloader:
        downloader.get(f"{services.url}/api/daily_papers", {"date": "2025-03-11"})
    assert waits == [0.0] and downloader.requests == 2  # the server's Retry-After: 0, over a back-off of 0


def test_an_interrupted_fetch_resumes_without_refetching(fetch_settings: Settings, services: Services) -> None:
    settings = fetch_settings.model_copy(update={"fetch_retries": 1})
    services.faults = [None, 503, 503]
    with pytest.raises(FetchError, match="still failing after 2 attempts .*run the same command again"):
        fetch_arxiv(settings, "cs.LG", date(2025, 1, 1), date(2025, 2, 28), embedder=FakeEmbedding(), today=TODAY)
    saved = settings.home / "fetch" / "arxiv" / "cs.LG_2025-01-01_2025-02-28"
    assert sorted(p.name for p in saved.iterdir()) == ["page-000000.xml"]
    assert not settings.chroma_path.exists()  # nothing ingested

    services.requests.clear()
    resumed = fetch_arxiv(settings, "cs.LG", date(2025, 1, 1), date(2025, 2, 28), embedder=FakeEmbedding(),
                          today=TODAY)
    assert services.starts() == [2, 4]
    assert (resumed.reused, resumed.downloaded, resumed.kept, resumed.ingest.added) == (1, 2, 2, 2)

    services.requests.clear()
    again = fetch_arxiv(settings, "cs.LG", date(2025, 1, 1), date(2025, 2, 28), embedder=FakeEmbedding(),
                        today=TODAY)
    assert services.requests == [] and (again.reused, again.requests) == (3, 0)
    assert (again.ingest.added, again.ingest.unchanged) == (0, 2)


def test_a_window_reaching_today_asks_again_for_its_last_page(fetch_settings: Settings, services: Services) -> None:
    fetch_arxiv(fetch_settings, "cs.LG", date(2025, 1, 1), embedder=FakeEmbedding(), today=date(2025, 3, 10))
    assert services.starts() == [0, 2, 4]
    services.requests.clear()
    fetch_arxiv(fetch_settings, "cs.LG", date(2025, 1, 1), embedder=FakeEmbedding(), today=date(2025, 3, 10))
    assert services.starts() == [4]  # the full pages stand; the last one may have grown


def test_the_delay_between_requests_is_kept(fetch_settings: Settings, services: Services) -> None:
    settings = fetch_settings.model_copy(update={"fetch_delay": 0.3})
    fetch_arxiv(settings, "cs.LG", date(2025, 1, 1), date(2025, 2, 28), embedder=FakeEmbedding(), today=TODAY)
    times = [r["time"] for r in services.requests]
    assert len(times) == 3 and min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.29


def test_an_arxiv_error_feed_is_reported(fetch_settings: Settings, services: Services) -> None:
    services.error_feed = True
    with pytest.raises(FetchError, match="arXiv rejected the query: max_results must be an integer"):
        fetch_arxiv(fetch_settings, "cs.LG", date(2025, 1, 1), date(2025, 2, 28), today=TODAY)


def test_daily_papers_of_a_date_with_their_upvotes(fetch_settings: Settings, services: Services) -> None:
    report = fetch_daily_papers(fetch_settings, date(2025, 3, 11), embedder=FakeEmbedding(), today=TODAY)
    assert [r["params"] for r in services.requests] == [{"date": "2025-03-11", "limit": "2", "p": "0"},
                                                         {"date": "2025-03-11", "limit": "2", "p": "1"}]
    assert services.requests[0]["path"] == "/api/daily_papers"
    assert services.requests[0]["headers"]["User-Agent"].startswith("PaperScope/")
    assert (report.pages, report.kept, report.ingest.added) == (2, 3, 3)
    stored = records(fetch_settings)
    assert {pid: r["upvotes"] for pid, r in stored.items()} == {
        "arxiv-2503.07572": 47, "arxiv-2502.01456": 61, "arxiv-2501.12948": 421}
    mrt = stored["arxiv-2503.07572"]
    assert (mrt["published"], mrt["authors"], mrt["organization"]) == ("2025-03-10", 7, "Hugging Face H4")
    assert mrt["author_names"] == ("Yuxiao Qu; Matthew Y. R. Yang; Amrith Setlur; Lewis Tunstall; "
                                   "Edward Emanuel Beeching; Ruslan Salakhutdinov; Aviral Kumar")
    assert (mrt["url"], mrt["sources"]) == ("https://huggingface.co/papers/2503.07572", "daily-papers-2025-03-11.json")

    services.requests.clear()
    again = fetch_daily_papers(fetch_settings, date(2025, 3, 11), embedder=FakeEmbedding(), today=TODAY)
    assert services.requests == [] and (again.reused, again.ingest.unchanged) == (2, 3)

    # the same papers from arXiv merge into them: one paper each, the upvotes kept
    fetch_arxiv(fetch_settings, "cs.LG", date(2025, 1, 1), date(2025, 3, 31), embedder=FakeEmbedding(), today=TODAY)
    merged = records(fetch_settings)
    assert len(merged) == 3 and merged["arxiv-2503.07572"]["upvotes"] == 47
    assert merged["arxiv-2503.07572"]["sources"] == "arxiv-cs.LG-2025-01-01-to-2025-03-31.xml,daily-papers-2025-03-11.json"


def test_unreachable_services_fail_fast_and_change_nothing(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ingest([DAILY], settings, embedder=FakeEmbedding())
    before = records(settings)
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("PAPERSCOPE_ARXIV_API_URL", f"{closed}/api/query")
    monkeypatch.setenv("PAPERSCOPE_DAILY_PAPERS_URL", f"{closed}/api/daily_papers")
    for argv, service in ((["fetch", "arxiv", "--category", "cs.LG", "--since", "2025-01-01"], "arXiv"),
                          (["fetch", "daily-papers", "--date", "2025-03-11", "--json"], "Hugging Face Daily Papers")):
        started = time.monotonic()
        assert main(argv) == 2
        assert time.monotonic() - started < 10
        err = capsys.readouterr().err
        assert f"error: Could not reach {service} at {closed}/api/" in err
        assert "Check the network connection" in err and "nothing was downloaded or ingested" in err
    assert records(settings) == before
    assert not (settings.home / "fetch").exists()


def test_cli_fetch_prints_one_json_summary(services: Services, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PAPERSCOPE_DAILY_PAPERS_URL", f"{services.url}/api/daily_papers")
    monkeypatch.setenv("PAPERSCOPE_FETCH_DELAY", "0")
    assert main(["fetch", "daily-papers", "--date", "2025-03-11", "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert (summary["papers"], summary["added"], summary["failed"], summary["skipped"]) == (3, 3, [], [])
    assert summary["fetch"]["source"] == "daily-papers" and summary["fetch"]["kept"] == 3
    assert summary["fetch"]["requests"] == 1  # the default page size (50) holds the day
    assert "Fetching Hugging Face Daily Papers of 2025-03-11" in err

    assert main(["fetch", "daily-papers", "--date", "2025-03-11"]) == 0
    out, err = capsys.readouterr()
    assert "3 papers: 0 added, 0 updated, 3 unchanged" in out
    assert "1 page (0 downloaded, 1 saved by an earlier run), 3 papers to ingest" in err


def test_a_saved_arxiv_response_ingests_as_a_file(tmp_path: Path) -> None:
    found = read_sources([ARXIV_FEED])
    assert not found.failed and len(found.papers) == 5
    attention = found.papers["arxiv-1706.03762"]
    assert (attention.published, attention.authors, attention.categories) == ("2017-06-12", 8, ["cs.CL", "cs.LG"])
    cs_cl = read_sources([ARXIV_FEED], categories=frozenset({"cs.CL"}))
    assert sorted(cs_cl.papers) == ["arxiv-1706.03762", "arxiv-2312.02179", "arxiv-2501.12948", "arxiv-2502.01456"]
    error = tmp_path / "error.xml"
    error.write_text(ERROR_FEED)
    cut = tmp_path / "cut.xml"
    cut.write_bytes(ARXIV_FEED.read_bytes()[:5000])
    broken = read_sources([error, cut])
    assert [Path(f.path).name for f in broken.failed] == ["error.xml", "cut.xml"]
    assert "an arXiv API error response" in broken.failed[0].reason and "cut off" in broken.failed[1].reason
