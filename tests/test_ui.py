"""The chat page in a real headless Chromium against a real `paperscope ui` server: streamed,
cited answers with evidence cards, follow-ups, error sentences, escaping of untrusted text, the
collection view; and the login and bind-address safeguards (over HTTP, no browser)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.servers import Server, free_port, start

REPO = Path(__file__).resolve().parents[1]
LISTINGS = REPO / "ingest" / "collection"
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
WAIT_MS = 120_000  # generous: two shared cores, a cold model on the first question
STARTUP_SECONDS = 300
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

IMPLICIT_PRMS = "Which papers use implicit PRMs?"
PRIME_ID = "process-reinforcement-through-implicit-rewards"
PRIME_TITLE = "Process Reinforcement through Implicit Rewards"

INJECTED_TITLE = "Sorting river gravel <b>bold?</b> with quantum annealers"
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>window.__pwned=1</script>"
INJECTED_ABSTRACT = (
    f"We sort river gravel by grain size with quantum annealers. {IMG} The annealer sorts the gravel "
    f"faster than a sieve. {SCRIPT} Sorted gravel improves river restoration."
)

def unavailable(reason: str) -> NoReturn:
    pytest.fail(f"{reason}: `bash .ci/setup` installs it (or deselect these tests with -m 'not browser')")


# -- the server ---------------------------------------------------------------------------------
def ui_env(home: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without any PaperScope or OpenAI setting, plus `overrides`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PAPERSCOPE_") and k not in ("OPENAI_API_KEY", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT")}
    env.update(PAPERSCOPE_HOME=str(home), **overrides)
    return env


def start_ui(home: Path, logs: Path, *args: str, **env: str) -> Server:
    """Start `paperscope ui` on a free port and wait until the page answers."""
    port = free_port()
    return start([sys.executable, "-m", "assistant.cli", "ui", "--port", str(port), *args],
                 f"http://127.0.0.1:{port}/", logs / f"ui-{port}.log", seconds=STARTUP_SECONDS,
                 name="`paperscope ui`", env=ui_env(home, **env), cwd=REPO)


def copy_index(source: Path, factory: pytest.TempPathFactory, name: str) -> Path:
    home = factory.mktemp(name) / "home"
    shutil.copytree(source, home)
    return home


@pytest.fixture(scope="module")
def bundled_ui(bundled_index_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The page over a private copy of the bundled collection, offline extractive mode."""
    home = copy_index(bundled_index_home, tmp_path_factory, "ui-bundled")
    server = start_ui(home, home.parent)
    yield server
    server.stop()


# -- the browser --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        unavailable("the `playwright` package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watch:
    """What a page did that it must not: requests leaving this machine, JavaScript dialogs."""

    outside: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser: Any, watch: Watch, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh laptop-sized page that may reach only this machine; its screenshot is kept."""

    def route(route: Any) -> None:
        if urllib.parse.urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            watch.outside.append(route.request.url)
            route.abort()

    def dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(WAIT_MS)
    context.route("**/*", route)
    page = context.new_page()
    page.on("dialog", dialog)
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not watch.outside, f"the page tried to reach other hosts (it must work offline): {watch.outside}"


def open_page(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    page.goto(server.url, wait_until="domcontentloaded")
    expect(page.locator("#ps-question textarea")).to_be_editable()


def ask(page: Any, question: str) -> Any:
    """Type `question`, send it, and return the locator of its completed answer."""
    from playwright.sync_api import expect

    done = page.locator(".ps-answer.ps-final")
    before = done.count()
    page.locator("#ps-question textarea").fill(question)
    page.locator("#ps-question textarea").press("Enter")
    expect(done).to_have_count(before + 1)
    return done.nth(before)


def card_ids(answer: Any) -> set[str]:
    return set(answer.locator(".ps-card .ps-id").all_inner_texts())


def abstract_lines() -> list[str]:
    return [line for path in LISTINGS.glob("*.txt") for line in path.read_text().splitlines() if len(line) > 200]


# -- the chat -----------------------------------------------------------------------------------
@pytest.mark.browser
def test_example_question_streams_a_cited_answer_with_evidence_cards(bundled_ui: Server, page: Any) -> None:
    from playwright.sync_api import expect

    open_page(page, bundled_ui)
    expect(page.locator("#ps-mode")).to_have_text("offline extractive")
    page.locator("#ps-chat").get_by_text(IMPLICIT_PRMS, exact=True).click()
    expect(page.locator("#ps-chat .ps-question")).to_have_text(IMPLICIT_PRMS)
    answer = page.locator(".ps-answer.ps-final")
    expect(answer).to_have_count(1)

    card = answer.locator(".ps-card").filter(has=page.locator(".ps-id", has_text=PRIME_ID))
    expect(card.locator(".ps-title")).to_have_text(PRIME_TITLE)
    evidence = card.locator(".ps-excerpt mark").inner_text().strip()
    abstract = next(line for line in abstract_lines() if line.startswith("Dense process rewards have proven"))
    assert evidence in abstract and evidence != abstract and evidence.endswith(".")
    card.locator("summary", has_text="Full abstract").click()
    expect(card.locator("details .ps-abstract")).to_have_text(abstract)
    expect(card.locator("details mark")).to_have_text(evidence)

    usage = answer.locator(".ps-usage")
    expect(usage).to_contain_text("offline extractive")
    expect(usage).to_have_text(re.compile(r"\d+\.\d\d s \(retrieval \d+\.\d\d s\)"))

    marker = card.locator(".ps-marker").inner_text()  # "[n]"
    anchor = card.get_attribute("id")
    link = answer.locator(".ps-text a.ps-ref", has_text=marker)
    assert link.get_attribute("href") == f"#{anchor}"
    link.click()
    expect(page).to_have_url(re.compile(f"#{anchor}$"))
    expect(card).to_be_in_viewport()

    page.set_viewport_size(PHONE)
    expect(card.locator(".ps-title")).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), "sideways scrolling on a phone"
    page.screenshot(path=str(SCREENSHOTS / "chat-phone-width.png"), full_page=True)


@pytest.mark.browser
def test_follow_up_cites_a_subset_of_the_previous_answer(bundled_ui: Server, page: Any) -> None:
    from playwright.sync_api import expect

    open_page(page, bundled_ui)
    first = ask(page, IMPLICIT_PRMS)
    first_ids = card_ids(first)
    assert PRIME_ID in first_ids
    follow_up = ask(page, "Which of those report results on math benchmarks?")
    expect(follow_up.locator(".ps-card").first).to_be_visible()
    assert card_ids(follow_up) <= first_ids

    page.locator("#ps-new-chat").click()
    expect(page.locator(".ps-answer")).to_have_count(0)
    expect(page.locator("#ps-chat").get_by_text(IMPLICIT_PRMS, exact=True)).to_be_visible()


@pytest.mark.browser
def test_bad_date_shows_a_sentence_and_a_good_one_filters(bundled_ui: Server, page: Any) -> None:
    from playwright.sync_api import expect

    open_page(page, bundled_ui)
    page.locator("#ps-since textarea").fill("last spring")
    refused = ask(page, IMPLICIT_PRMS)
    expect(refused.locator(".ps-error")).to_have_text(re.compile(r"^Not a date: 'last spring'\. Use YYYY.*\.$"))
    assert "Traceback" not in page.content()

    page.locator("#ps-since textarea").fill("2025-01")
    answer = ask(page, "Which papers use Monte Carlo tree search for LLM reasoning?")
    expect(answer.locator(".ps-error")).to_have_count(0)
    expect(answer.locator(".ps-card").first).to_be_visible()
    for meta in answer.locator(".ps-card .ps-meta").all_inner_texts():
        assert meta.startswith("2025-"), meta


@pytest.mark.browser
def test_collection_view_counts_and_searches_the_papers(bundled_ui: Server, page: Any) -> None:
    from playwright.sync_api import expect

    open_page(page, bundled_ui)
    page.get_by_role("tab", name="Collection").click()
    expect(page.locator("#ps-summary")).to_contain_text("465 papers")
    expect(page.locator("#ps-summary")).to_contain_text(re.compile(r"published \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d"))
    page.locator("#ps-search textarea").fill("implicit process rewards reinforcement")
    page.locator("#ps-search textarea").press("Enter")
    expect(page.locator("#ps-results .ps-title", has_text=PRIME_TITLE)).to_be_visible()


# -- failures and untrusted text ----------------------------------------------------------------
@pytest.mark.browser
def test_unreachable_llm_shows_the_error_sentence_and_the_papers(
    bundled_index_home: Path, tmp_path: Path, page: Any
) -> None:
    from playwright.sync_api import expect

    home = tmp_path / "home"
    shutil.copytree(bundled_index_home, home)
    closed = free_port()
    server = start_ui(home, tmp_path, PAPERSCOPE_LLM_BASE_URL=f"http://127.0.0.1:{closed}/v1",
                      PAPERSCOPE_LLM_MODEL="paperscope-test-model", PAPERSCOPE_LLM_MAX_RETRIES="0",
                      PAPERSCOPE_LLM_TIMEOUT="5")
    try:
        open_page(page, server)
        expect(page.locator("#ps-mode")).to_contain_text("paperscope-test-model")
        answer = ask(page, IMPLICIT_PRMS)
        expect(answer.locator(".ps-error")).to_contain_text(f"http://127.0.0.1:{closed}/v1 could not be reached")
        expect(answer.locator(".ps-error")).to_be_in_viewport()  # the chat shows a finished answer from its start
        expect(answer.locator(".ps-card").first).to_be_visible()
        assert PRIME_ID in card_ids(answer)
        assert "Traceback" not in page.content() and "Traceback" not in page.locator("body").inner_text()
    finally:
        server.stop()
    assert "Traceback" not in server.output()


@pytest.mark.browser
def test_untrusted_text_renders_as_inert_text(tmp_path: Path, page: Any, watch: Watch) -> None:
    from playwright.sync_api import expect

    papers = [
        {"title": INJECTED_TITLE, "abstract": INJECTED_ABSTRACT, "published": "2024-05-01", "authors": 3},
        {"title": "Protein folding with diffusion models", "abstract": "We fold proteins with a diffusion model.",
         "published": "2024-02-01", "authors": 5},
        {"title": "Speech recognition for low-resource languages",
         "abstract": "We transcribe speech in languages with little labelled audio.", "published": "2023-07-09",
         "authors": 2},
    ]
    source = tmp_path / "inject.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in papers))
    home = tmp_path / "home"
    env = ui_env(home, PAPERSCOPE_COLLECTION="inject")
    ingest = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(source), "--json"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=STARTUP_SECONDS)
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["papers"] == 3

    server = start_ui(home, tmp_path, PAPERSCOPE_COLLECTION="inject")
    try:
        open_page(page, server)
        answer = ask(page, "Which papers sort river gravel with quantum annealers?")
        expect(answer.locator(".ps-card .ps-title")).to_have_text([INJECTED_TITLE])
        expect(answer.get_by_text(IMG).first).to_be_visible()
        expect(answer.get_by_text(INJECTED_TITLE).first).to_be_visible()
        question = f"{IMG} gravel annealers"
        ask(page, question)
        expect(page.locator("#ps-chat .ps-question").nth(1)).to_have_text(question)

        page.get_by_role("tab", name="Collection").click()
        page.locator("#ps-search textarea").fill("gravel")
        page.locator("#ps-search textarea").press("Enter")
        expect(page.locator("#ps-results .ps-title", has_text="Sorting river gravel")).to_have_text(INJECTED_TITLE)

        assert page.locator('img[src="x"]').count() == 0
        assert page.locator("b", has_text="bold?").count() == 0
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert watch.dialogs == []
    finally:
        server.stop()


# -- rendering, login and bind address (no browser) ---------------------------------------------
def test_answer_html_is_built_from_escaped_text_with_linked_markers() -> None:
    from assistant.render import render_answer
    from assistant.types import Answer, Citation, Usage

    abstract = "First sentence. The <script>x()</script> sentence. Last one."
    citation = Citation(id="p-1", title="A <b>title</b>", published="2024-05-01", score=1.0, authors=1, marker=1,
                        evidence="The <script>x()</script> sentence.", abstract=abstract)
    answer = Answer(text="Lead: **A <b>title</b>** [1], not [7].\n- item <i>one</i>\n* item two", citations=[citation],
                    mode="llm", error="The LLM <endpoint> failed.", seconds=1.5,
                    usage=Usage(retrieval_seconds=0.5, generation_seconds=1.0, prompt_tokens=10, completion_tokens=5,
                                cost_usd=0.0001, model="m"))
    html = render_answer(answer, 3, final=True, llm_model="unused")
    assert not re.search(r"<(b|i|script|endpoint)\b", html)
    assert "<strong>A &lt;b&gt;title&lt;/b&gt;</strong>" in html
    assert '<a class="ps-ref" href="#ps-3-1">[1]</a>' in html and "not [7]." in html
    assert 'id="ps-3-1"' in html and "<li>item &lt;i&gt;one&lt;/i&gt;</li><li>item two</li>" in html
    assert "First sentence. <mark>The &lt;script&gt;x()&lt;/script&gt; sentence.</mark> Last one." in html
    assert '<div class="ps-error" role="alert">The LLM &lt;endpoint&gt; failed.</div>' in html
    assert "LLM m · 1.50 s (retrieval 0.50 s, generation 1.00 s) · 10 prompt + 5 completion tokens · $0.00010" in html


def test_a_card_shows_the_evidence_in_context_and_the_whole_abstract_on_demand() -> None:
    from assistant.render import CONTEXT_CHARS, render_citation
    from assistant.types import Citation

    before, evidence, after = "word " * 100, "The evidence sentence.", " tail" * 100
    card = render_citation(Citation(id="p", title="T", published=None, score=1.0, evidence=evidence,
                                    abstract=before + evidence + after, marker=2), "ps-1-2")
    excerpt = re.search(r'<p class="ps-abstract ps-excerpt">(.*?)</p>', card)
    assert excerpt and excerpt.group(1).startswith("…word") and excerpt.group(1).endswith("tail…")
    assert f"<mark>{evidence}</mark>" in excerpt.group(1) and len(excerpt.group(1)) < 2 * CONTEXT_CHARS + 60
    assert f"<summary>Full abstract</summary><p class=\"ps-abstract\">{before}<mark>{evidence}</mark>{after}</p>" in card
    assert '<div class="ps-meta"><code class="ps-id">p</code></div>' in card
@pytest.mark.parametrize(("host", "exposed"), [("127.0.0.1", False), ("localhost", False), ("::1", False),
                                               ("0.0.0.0", True), ("192.168.1.20", True), ("::", True)])
def test_binding_beyond_this_machine_without_login_warns(host: str, exposed: bool) -> None:
    from assistant.ui import exposure_warning

    warning = exposure_warning(host, 7860, has_login=False, share=False)
    assert (warning is not None) == exposed
    if warning:
        assert "PAPERSCOPE_UI_AUTH" in warning and host in warning
    assert exposure_warning(host, 7860, has_login=True, share=True) is None
    assert "public link" in (exposure_warning(host, 7860, has_login=False, share=True) or "")


def test_ui_command_prints_the_warning_and_refuses_a_malformed_login(tmp_path: Path) -> None:
    env = ui_env(tmp_path / "home", PAPERSCOPE_COLLECTION="nothing-here")
    run = subprocess.run([sys.executable, "-m", "assistant.cli", "ui", "--host", "0.0.0.0", "--port", str(free_port())],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=STARTUP_SECONDS)
    assert run.returncode == 2  # the empty collection stops it before it binds
    assert "warning: binding 0.0.0.0 without PAPERSCOPE_UI_AUTH" in run.stderr
    assert "is empty" in run.stderr and "Traceback" not in run.stderr

    env["PAPERSCOPE_UI_AUTH"] = "no-colon"
    run = subprocess.run([sys.executable, "-m", "assistant.cli", "ui"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=STARTUP_SECONDS)
    assert run.returncode == 2
    assert "PAPERSCOPE_UI_AUTH must be user:password" in run.stderr and "no-colon" not in run.stderr


def test_with_a_login_set_the_page_asks_for_it(bundled_index_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(bundled_index_home, home)
    server = start_ui(home, tmp_path, PAPERSCOPE_UI_AUTH="reader:correct horse")
    try:
        with urllib.request.urlopen(server.url, timeout=30) as response:
            assert '"auth_required":true' in response.read().decode().replace(" ", "")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "config", timeout=30)
        assert refused.value.code == 401

        def log_in(password: str) -> Any:
            form = urllib.parse.urlencode({"username": "reader", "password": password}).encode()
            return urllib.request.urlopen(urllib.request.Request(server.url + "login", data=form), timeout=30)

        with pytest.raises(urllib.error.HTTPError):
            log_in("wrong")
        with log_in("correct horse") as response:
            cookie = response.headers["set-cookie"].split(";")[0]
        config = urllib.request.Request(server.url + "config", headers={"Cookie": cookie})
        with urllib.request.urlopen(config, timeout=30) as response:
            assert response.status == 200 and "ps-chat" in response.read().decode()
    finally:
        server.stop()
    assert "warning" not in server.output()
