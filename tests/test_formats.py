"""The bibliographic formats (BibTeX, RIS, Zotero CSV, arXiv snapshot, OpenAlex, Daily Papers), each
pinned on a sample in tests/data, and the bad inputs each must survive: a truncated file, the wrong
encoding, an entry without a title, duplicates, and a large file that must be streamed."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import pytest

from ingest.formats import Context, detect
from ingest.papers import Paper
from ingest.reading import Sources, read_sources
from ingest.sources import load_file

DATA = Path(__file__).parent / "data"
SAMPLES = {"bibtex": "library.bib", "ris": "references.ris", "zotero-csv": "zotero-export.csv",
           "arxiv": "arxiv-metadata-sample.json", "openalex": "openalex-works.json", "daily-papers": "daily-papers.json"}


def parse(path: Path, **options: object) -> tuple[list[Paper], list[tuple[str, str]]]:
    ctx = Context(path, **options)  # type: ignore[arg-type]
    papers = load_file(path, ctx)
    return papers, [(s.entry, s.reason) for s in ctx.skipped]


def by_id(papers: list[Paper]) -> dict[str, Paper]:
    return {p.id: p for p in papers}


@pytest.mark.parametrize(("kind", "name"), SAMPLES.items())
def test_each_sample_is_detected_by_content_whatever_its_name(kind: str, name: str, tmp_path: Path) -> None:
    assert detect(DATA / name) == kind
    renamed = tmp_path / "export.txt"
    shutil.copy(DATA / name, renamed)
    assert detect(renamed) == kind


def test_bibtex_library() -> None:
    papers, skipped = parse(DATA / "library.bib")
    assert [p.id for p in papers] == ["arxiv-1706.03762", "bert-pre-training-of-deep-bidirectional-transformers-for-"
                                      "language-understanding", "arxiv-1412.6980", "arxiv-2102.11107"]
    attention, bert, adam, causal = papers
    assert attention.title == "Attention is All you Need" and attention.arxiv_id == "1706.03762"
    assert attention.venue == "Advances in Neural Information Processing Systems 30"  # @string # "literal"
    assert attention.published == "2017-12" and attention.authors == 8 and "Łukasz Kaiser" in attention.author_names
    assert "by over 2 BLEU" in attention.abstract  # the ~ tie is a space
    assert bert.title.startswith("BERT: Pre-training") and bert.doi == "10.18653/v1/n19-1423"
    assert "80.5% (7.7% point" in bert.abstract and "{" not in bert.abstract
    assert bert.venue is not None and bert.venue.startswith("Proceedings of the 2019 Conference of the North American")
    assert adam.title == "Adam: A Method for Stochastic Optimization" and adam.author_names == ["Diederik P. Kingma", "Jimmy Ba"]
    assert adam.published == "2015" and adam.venue is not None and adam.venue.startswith("3rd International Conference")
    assert causal.author_names[0] == "Bernhard Schölkopf" and causal.published == "2021-05"
    assert causal.venue == "Proceedings of the IEEE" and causal.arxiv_id == "2102.11107"
    assert {p.sources[0] for p in papers} == {"library.bib"}
    assert skipped == [("DBLP:conf/iclr/2015", "a crossref target (proceedings), not a paper: it has no abstract"),
                       ("he2016deep", "no abstract ('Deep Residual Learning for Image Recognition')")]


def test_bibtex_duplicate_keys_unknown_crossref_and_et_al(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text("""@article{a, title={First}, abstract={One.}, author={A. One and B. Two and others}, year=2020}
@article{a, title={Second with the same key}, abstract={Two.}}
@inproceedings{b, title={Orphan}, crossref={nowhere}}
@article{c, title={Repeated field}, title={Ignored}, abstract={Three.}, month=mar, year={2021}}
""")
    papers, skipped = parse(path)
    assert [(p.title, p.authors, p.author_names, p.published) for p in papers] == [
        ("First", None, ["A. One", "B. Two"], "2020"), ("Repeated field", None, [], "2021-03")]
    assert skipped[0] == ("a", "duplicate key (line 2); the first entry with this key is used")
    assert skipped[1][0] == "b" and "crossref 'nowhere'" in skipped[1][1]


def test_ris_from_zotero_mendeley_and_endnote() -> None:
    papers, skipped = parse(DATA / "references.ris")
    attention, bert, adam = papers
    assert (attention.id, attention.published, attention.authors, attention.doi) == (
        "arxiv-1706.03762", "2017-06-12", 8, "10.48550/arxiv.1706.03762")
    assert attention.author_names[:2] == ["Ashish Vaswani", "Noam Shazeer"] and attention.url == "http://arxiv.org/abs/1706.03762"
    assert (bert.published, bert.doi, bert.arxiv_id) == ("2019-06", "10.18653/v1/n19-1423", None)
    assert bert.venue is not None and bert.venue.startswith("Proceedings of the 2019")
    # EndNote style: T1 / A1 / Y1 / N2, the abstract wrapped over lines, the arXiv id in M1
    assert (adam.id, adam.title, adam.published) == (
        "arxiv-1412.6980", "Adam: A Method for Stochastic Optimization", "2014-12-22")
    assert adam.abstract.endswith("computationally efficient.") and "\n" not in adam.abstract
    assert skipped == [("Deep Learning", "no abstract ('Deep Learning')")]


def test_zotero_csv_export() -> None:
    papers, skipped = parse(DATA / "zotero-export.csv")
    attention, bert, causal = papers
    assert (attention.id, attention.published, attention.authors) == ("arxiv-1706.03762", "2017-06-12", 8)
    assert attention.author_names[-1] == "Illia Polosukhin"
    assert (bert.venue, bert.doi, bert.url) == (
        "Proceedings of the 2019 Conference of the North American Chapter of the Association for Computational "
        "Linguistics", "10.18653/v1/n19-1423", "https://aclanthology.org/N19-1423")
    assert causal.author_names[0] == "Bernhard Schölkopf" and causal.published == "2021-05"
    assert skipped == [("QW8E2N5T", "no abstract ('Deep Learning')")]


def test_arxiv_snapshot_and_category_filter() -> None:
    papers, skipped = parse(DATA / "arxiv-metadata-sample.json")
    assert skipped == [] and len(papers) == 5
    first = papers[0]
    assert first.id == "arxiv-0704.0001" and first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies")
    assert first.published == "2007-04-02"  # v1, not the last update
    assert first.author_names == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert (first.doi, first.categories, first.venue) == ("10.1103/physrevd.76.013009", ["hep-ph"], "Phys.Rev.D76:013009,2007")
    assert "(k,ℓ)-pebble game" in papers[1].abstract  # $(k,\ell)$ made plain
    assert not papers[0].abstract.startswith(" ") and "\n" not in papers[0].abstract
    kept, _ = parse(DATA / "arxiv-metadata-sample.json", categories=frozenset({"cs.LG"}))
    assert [p.arxiv_id for p in kept] == ["1312.6114", "1706.03762", "2312.02179"]
    archive, _ = parse(DATA / "arxiv-metadata-sample.json", categories=frozenset({"math"}))
    assert [p.arxiv_id for p in archive] == ["0704.0002"]


def test_openalex_page_single_work_and_json_lines(tmp_path: Path) -> None:
    papers, skipped = parse(DATA / "openalex-works.json")
    attention, aevb = papers
    assert attention.abstract.startswith("The dominant sequence transduction models are based on complex recurrent")
    assert (attention.id, attention.published, attention.authors, attention.organization) == (
        "arxiv-1706.03762", "2017-06-12", 3, "Google (United States)")
    assert (aevb.organization, aevb.venue) == ("University of Amsterdam", "arXiv (Cornell University)")
    assert skipped == [("W2194775991", "no abstract ('Deep Residual Learning for Image Recognition')")]

    page = json.loads((DATA / "openalex-works.json").read_text())
    single = tmp_path / "work.json"
    single.write_text(json.dumps(page["results"][1], indent=2))
    assert [p.id for p in parse(single)[0]] == ["arxiv-1312.6114"]
    lines = tmp_path / "works.jsonl"
    lines.write_text("".join(json.dumps(w) + "\n" for w in page["results"]))
    assert detect(lines) == "openalex"
    assert [p.id for p in parse(lines)[0]] == ["arxiv-1706.03762", "arxiv-1312.6114"]


def test_daily_papers_response() -> None:
    papers, skipped = parse(DATA / "daily-papers.json")
    assert skipped == []
    r1, prime, mrt = papers
    assert (r1.id, r1.published, r1.upvotes, r1.organization) == ("arxiv-2501.12948", "2025-01-22", 421, "DeepSeek")
    assert r1.title.startswith("DeepSeek-R1:") and r1.author_names[0] == "DeepSeek-AI"
    assert r1.url == "https://huggingface.co/papers/2501.12948"
    assert (prime.upvotes, prime.organization, mrt.organization, mrt.authors) == (61, None, "Hugging Face H4", 7)


# -- bad input, per format ---------------------------------------------------------------------

def read_one(path: Path) -> Sources:
    return read_sources([path])


@pytest.mark.parametrize("kind", SAMPLES)
def test_truncated_file(kind: str, tmp_path: Path) -> None:
    data = (DATA / SAMPLES[kind]).read_bytes()
    path = tmp_path / SAMPLES[kind]
    path.write_bytes(data[: int(len(data) * 0.75)])
    found = read_one(path)
    if kind == "openalex":  # one pretty-printed JSON document: the file as a whole is unreadable
        assert found.papers == {} and "cut off" in found.failed[0].reason
        return
    assert found.failed == [] and found.papers  # what came before the cut ingests
    assert len(found.skipped) == 1 and found.skipped[0].path == str(path)
    assert any(word in found.skipped[0].reason for word in ("cut off", "ends inside", "end of file"))


def _latin1(kind: str, tmp_path: Path) -> Path:
    text = (DATA / SAMPLES[kind]).read_text(encoding="utf-8-sig")
    text = text.replace("Attention", "Atténtion", 1).replace("Incentivizing", "Incentivizíng", 1)
    text = text.replace("Schölkopf", "Scholkopf").replace("Balázs", "Balazs")
    text = text.replace("Łukasz", "Lukasz").replace("–", "-").replace("ℓ", "l")
    path = tmp_path / SAMPLES[kind]
    path.write_bytes(text.encode("latin-1"))
    return path


@pytest.mark.parametrize("kind", SAMPLES)
def test_wrong_encoding(kind: str, tmp_path: Path) -> None:
    found = read_one(_latin1(kind, tmp_path))
    if kind == "arxiv":  # streamed: only the line with the bad byte is lost
        assert [(s.entry, s.reason[:10]) for s in found.skipped] == [("line 4", "not UTF-8 ")]
        assert len(found.papers) == 4 and not found.failed
        return
    (failure,) = found.failed
    assert "not UTF-8" in failure.reason and "UTF-8" in failure.reason.split(";")[-1]
    assert found.papers == {}


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "endnote.ris"
    path.write_bytes((DATA / "references.ris").read_text().encode("utf-16"))
    assert len(read_one(path).papers) == 3


def _without_title(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / SAMPLES[kind]
    text = (DATA / SAMPLES[kind]).read_text(encoding="utf-8-sig")
    if kind in ("openalex", "daily-papers"):
        document = json.loads(text)
        first = document["results"][0] if kind == "openalex" else document[0]["paper"]
        first["title"] = first.pop("display_name", None) and None
        if kind == "daily-papers":
            document[0]["title"] = ""
        text = json.dumps(document)
    else:
        old, new = {"bibtex": ("title         = {Attention is All you Need},", ""),
                    "ris": ("TI  - Attention Is All You Need\n", ""),
                    "zotero-csv": ('"Attention Is All You Need"', '""'),
                    "arxiv": ('"title": "Attention Is All You Need"', '"title": null')}[kind]
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", SAMPLES)
def test_entry_without_title_is_reported_and_the_rest_ingests(kind: str, tmp_path: Path) -> None:
    full = read_one(DATA / SAMPLES[kind])
    found = read_one(_without_title(kind, tmp_path))
    assert not found.failed
    assert len(found.papers) == len(full.papers) - 1
    assert [s.reason for s in found.skipped if s.reason == "no title"] == ["no title"]
    assert len(found.skipped) == len(full.skipped) + 1


@pytest.mark.parametrize("kind", SAMPLES)
def test_duplicates_are_one_paper(kind: str, tmp_path: Path) -> None:
    text = (DATA / SAMPLES[kind]).read_text(encoding="utf-8-sig")
    path = tmp_path / SAMPLES[kind]
    if kind == "openalex":
        page = json.loads(text)
        page["results"].append(page["results"][0])
        text = json.dumps(page)
    elif kind == "daily-papers":
        items = json.loads(text)
        text = json.dumps(items + items[:1])
    elif kind == "zotero-csv":
        lines = text.splitlines(keepends=True)
        text = "".join(lines + lines[1:2])
    else:
        text = text + "\n" + text
    path.write_text(text, encoding="utf-8")
    full = read_one(DATA / SAMPLES[kind])
    found = read_one(path)
    assert sorted(found.papers) == sorted(full.papers) and not found.failed
    attention = found.papers.get("arxiv-1706.03762") or found.papers["arxiv-2501.12948"]
    assert attention.sources == [path.name]
    if kind in ("bibtex", "zotero-csv"):  # a repeated key is reported, not silently merged
        assert any(s.reason.startswith("duplicate") for s in found.skipped)


def test_large_arxiv_snapshot_is_streamed_with_progress(tmp_path: Path) -> None:
    path = tmp_path / "arxiv-metadata-oai-snapshot.json"
    template = json.loads((DATA / "arxiv-metadata-sample.json").read_text().splitlines()[0])
    with path.open("w") as handle:
        for i in range(40_000):
            record = dict(template, id=f"2401.{i:05d}", title=f"Study {i} of diphoton production", doi=None,
                          categories="cs.LG" if i % 4000 == 0 else "hep-ph")
            handle.write(json.dumps(record) + "\n")
    size = path.stat().st_size
    assert size > 40_000_000
    seen: list[tuple[int, int]] = []
    tracemalloc.start()
    try:
        found = read_sources([path], categories=frozenset({"cs.LG"}), progress=lambda done, total: seen.append((done, total)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(found.papers) == 10 and not found.skipped and not found.failed
    assert peak < size / 10  # never the whole file in memory
    assert len(seen) > 5 and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
