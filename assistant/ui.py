"""The browser chat (`paperscope ui`): a Gradio page over the public `Assistant` API.

It turns answers, citation cards and collection search results into HTML built from escaped
text, and owns the launch options (bind address, login, share link). It does no retrieval or
answering of its own."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr

from assistant.api import Assistant, Turn
from assistant.errors import ConfigError, PaperScopeError
from assistant.progress import open_assistant as open_index
from assistant.render import escape, internal_error, render_answer, render_error, render_hit
from assistant.settings import Settings
from assistant.types import Answer

log = logging.getLogger(__name__)

EXAMPLES = (
    "Which papers use implicit PRMs?",
    "Which papers use Monte Carlo tree search for LLM reasoning?",
    "What is speculative decoding used for?",
    "Which papers have exactly two authors?",
)
SEARCH_RESULTS = 20
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


# Once an answer is complete, scroll the chat (not the page) so that its question is at the top:
# the chat follows the bottom while an answer streams, and a long answer is read from its start
# (where an error sentence is). The delay lets the Chatbot's own scroll to the bottom finish first.
SHOW_LATEST_ANSWER = """
() => setTimeout(() => {
  const questions = document.querySelectorAll("#ps-chat .ps-question");
  const question = questions[questions.length - 1];
  let box = question ? question.parentElement : null;
  while (box && !(box.scrollHeight > box.clientHeight + 1 && /auto|scroll/.test(getComputedStyle(box).overflowY))) {
    box = box.parentElement;
  }
  if (box) box.scrollTop += question.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
}, 500)
"""

CSS = """
.main.fillable { padding-left: clamp(6px, 3vw, 32px) !important; padding-right: clamp(6px, 3vw, 32px) !important; }
#ps-header h1 { font-size: 1.5em; margin: 0; }
#ps-header p { margin: .2em 0 0; color: var(--body-text-color-subdued); }
.ps-mode { font-weight: 600; color: var(--body-text-color); }
.ps-answer p, .ps-question { margin: 0 0 .5em; }
.ps-answer ul { margin: .25em 0 .6em 1.2em; padding: 0; list-style: disc; }
.ps-answer li { margin-bottom: .35em; }
.ps-error { border-left: 4px solid #dc2626; background: #fef2f2; color: #7f1d1d; padding: .6em .8em;
            border-radius: 6px; margin: 0 0 .7em; font-weight: 600; }
.ps-unsupported { border-left: 4px solid #d97706; background: #fffbeb; color: #78350f; padding: .5em .8em;
                  border-radius: 6px; margin: .4em 0 .7em; }
.ps-why { color: var(--body-text-color-subdued); font-size: .9em; }
.ps-pending { color: var(--body-text-color-subdued); font-style: italic; }
.ps-cards { display: grid; gap: .6em; margin-top: .8em; }
.ps-cards h4, .ps-results h4 { margin: 0; font-size: .95em; }
.ps-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em .8em;
           background: var(--background-fill-secondary); scroll-margin-top: .5em; overflow-wrap: anywhere; }
.ps-card:target { outline: 2px solid var(--color-accent); }
.ps-card header { font-weight: 600; }
.ps-marker { color: var(--color-accent); margin-right: .25em; }
.ps-meta, .ps-usage { color: var(--body-text-color-subdued); font-size: .85em; }
.ps-usage { margin-top: .7em; }
.ps-abstract { font-size: .9em; line-height: 1.45; margin: .4em 0 0; }
.ps-answer mark, .ps-card mark { background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 2px; }
.ps-ref { font-weight: 600; text-decoration: none; }
.ps-results { display: grid; gap: .6em; }
.ps-card details { margin-top: .3em; }
.ps-card summary { cursor: pointer; color: var(--body-text-color-subdued); }
@media (max-width: 640px) {
  #ps-chat .message-row { margin-left: 2px !important; margin-right: 2px !important; max-width: 100% !important; }
  .ps-card { padding: .5em .6em; }
  #ps-header h1 { font-size: 1.25em; }
}
"""


# -- the chat -------------------------------------------------------------------------------
def mode_label(assistant: Assistant) -> str:
    """How this page answers: offline extractive, or the LLM's model name."""
    return "offline extractive" if assistant.mode == "extractive" else f"LLM: {assistant.settings.llm_model}"


@dataclass
class Exchange:
    """One question and what the page shows for it: the real `Answer`, or an error sentence."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    done: bool = False


def history(exchanges: list[Exchange]) -> list[Turn]:
    """The conversation as the API takes it: completed (question, Answer) turns."""
    return [(e.question, e.answer) for e in exchanges if e.done and e.answer is not None]


def messages(exchanges: list[Exchange], llm_model: str) -> list[dict[str, str]]:
    """The Chatbot's messages (role/content dicts), every one rendered from escaped text."""
    out: list[dict[str, str]] = []
    for turn, exchange in enumerate(exchanges, start=1):
        out.append({"role": "user", "content": f'<p class="ps-question">{escape(exchange.question)}</p>'})
        if exchange.error:
            content = render_error(exchange.error)
        elif exchange.answer is not None:
            content = render_answer(exchange.answer, turn, final=exchange.done, llm_model=llm_model)
        else:
            content = '<p class="ps-pending">Searching the papers…</p>'
        out.append({"role": "assistant", "content": content})
    return out


class ChatPage:
    """The page's callbacks over one shared `Assistant`."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.llm_model = assistant.settings.llm_model

    def header(self) -> str:
        summary = self.assistant.summary()
        return (f'<div id="ps-header"><h1>PaperScope</h1><p>Questions about {escape(summary.describe())} · '
                f'mode: <span class="ps-mode" id="ps-mode">{escape(mode_label(self.assistant))}</span></p></div>')

    def collection(self) -> str:
        summary = self.assistant.summary()
        span = f", published {summary.first} to {summary.last}" if summary.first else ""
        return (f'<p id="ps-summary"><strong>{summary.papers} papers</strong>{escape(span)} in the collection '
                f'“{escape(self.assistant.settings.collection)}”. Search their titles and abstracts below.</p>')

    def refresh(self) -> tuple[str, str]:
        """Header and collection summary, read when a page opens (an ingest may have run since)."""
        return self.header(), self.collection()

    def respond(self, message: str, exchanges: list[Exchange], since: str, until: str
                ) -> Iterator[tuple[list[dict[str, str]], list[Exchange], str]]:
        """Stream the answer to `message` into the chat; errors become a sentence in the chat."""
        message = message.strip()
        if not message:
            yield messages(exchanges, self.llm_model), exchanges, ""
            return
        earlier = history(exchanges)
        current = Exchange(message)
        exchanges = [*exchanges, current]
        yield messages(exchanges, self.llm_model), exchanges, ""
        try:
            for answer in self.assistant.stream_chat(message, earlier, since=since.strip() or None,
                                                     until=until.strip() or None):
                current.answer = answer
                yield messages(exchanges, self.llm_model), exchanges, ""
        except PaperScopeError as exc:
            current.answer, current.error = None, str(exc)
        except Exception as exc:
            log.exception("answering %r failed", message)
            current.answer, current.error = None, internal_error(exc)
        current.done = True
        yield messages(exchanges, self.llm_model), exchanges, ""

    def respond_example(self, exchanges: list[Exchange], since: str, until: str, event: gr.SelectData
                        ) -> Iterator[tuple[list[dict[str, str]], list[Exchange], str]]:
        """Ask the example question the user clicked on the empty chat."""
        yield from self.respond(event.value["text"], exchanges, since, until)

    @staticmethod
    def new_chat() -> tuple[list[dict[str, str]], list[Exchange], str]:
        """An empty conversation (the example questions show again)."""
        return [], [], ""

    def search(self, query: str) -> str:
        """Collection search results as cards; errors as a sentence."""
        if not query.strip():
            return '<p class="ps-pending">Type a topic, a method or a title to list the matching papers.</p>'
        try:
            hits = self.assistant.search(query, k=SEARCH_RESULTS)
        except PaperScopeError as exc:
            return render_error(str(exc))
        except Exception as exc:
            log.exception("searching %r failed", query)
            return render_error(internal_error(exc))
        if not hits:
            return '<p class="ps-pending">No paper matches.</p>'
        cards = "".join(render_hit(h) for h in hits)
        return f'<div class="ps-results"><h4>{len(hits)} best matches</h4>{cards}</div>'


def build(assistant: Assistant) -> gr.Blocks:
    """The page: a chat tab (examples, date filter, new chat) and a collection tab (summary, search)."""
    page = ChatPage(assistant)
    with gr.Blocks(title="PaperScope", analytics_enabled=False) as demo:
        header = gr.HTML(page.header())
        exchanges = gr.State([])
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chatbot = gr.Chatbot(
                    value=[], elem_id="ps-chat", show_label=False, height="62vh", min_height=320,
                    render_markdown=False, feedback_options=None, buttons=[],
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder="Ask about the papers in the collection: answers quote the abstracts and cite each paper.",
                )
                with gr.Row(equal_height=True):
                    question = gr.Textbox(show_label=False, placeholder="Ask about the papers…", scale=6, min_width=220,
                                          max_lines=4, autofocus=True, elem_id="ps-question")
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="ps-ask")
                    new_chat = gr.Button("New chat", scale=1, min_width=90, elem_id="ps-new-chat")
                with gr.Row():
                    since = gr.Textbox(label="Published since", placeholder="YYYY[-MM[-DD]]", min_width=140,
                                       elem_id="ps-since")
                    until = gr.Textbox(label="Published until", placeholder="YYYY[-MM[-DD]]", min_width=140,
                                       elem_id="ps-until")
            with gr.Tab("Collection", id="collection"):
                summary = gr.HTML(page.collection())
                with gr.Row(equal_height=True):
                    query = gr.Textbox(show_label=False, placeholder="Search titles and abstracts…", scale=5,
                                       min_width=200, elem_id="ps-search")
                    go = gr.Button("Search", variant="primary", scale=1, min_width=80, elem_id="ps-search-button")
                results = gr.HTML(page.search(""), elem_id="ps-results")

        outputs = [chatbot, exchanges, question]
        question.submit(page.respond, [question, exchanges, since, until], outputs).then(None, js=SHOW_LATEST_ANSWER)
        ask.click(page.respond, [question, exchanges, since, until], outputs).then(None, js=SHOW_LATEST_ANSWER)
        chatbot.example_select(page.respond_example, [exchanges, since, until], outputs).then(None, js=SHOW_LATEST_ANSWER)
        new_chat.click(page.new_chat, None, outputs)
        chatbot.clear(page.new_chat, None, outputs)
        query.submit(page.search, query, results)
        go.click(page.search, query, results)
        demo.load(page.refresh, None, [header, summary])
    return demo


# -- launching ------------------------------------------------------------------------------
def login(settings: Settings) -> tuple[str, str] | None:
    """The (user, password) pair from PAPERSCOPE_UI_AUTH, or None when no login is configured."""
    if settings.ui_auth is None:
        return None
    user, sep, password = settings.ui_auth.get_secret_value().partition(":")
    if not (sep and user.strip() and password):
        raise ConfigError("PAPERSCOPE_UI_AUTH must be user:password, e.g. PAPERSCOPE_UI_AUTH=alice:a-long-secret.")
    return user.strip(), password


def is_local(host: str) -> bool:
    """True for addresses only this machine can reach (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int, *, has_login: bool, share: bool) -> str | None:
    """What to tell the user when the page is reachable by others without a login, else None."""
    if has_login:
        return None
    if share:
        return ("--share opens a public link and PAPERSCOPE_UI_AUTH is not set: anyone with the link can use this "
                "assistant. Set PAPERSCOPE_UI_AUTH=user:password.")
    if not is_local(host):
        return (f"binding {host} without PAPERSCOPE_UI_AUTH: anyone who can reach port {port} on this machine can use "
                "this assistant. Set PAPERSCOPE_UI_AUTH=user:password, or bind 127.0.0.1 (the default).")
    return None


def open_assistant(settings: Settings) -> Assistant:
    """The Assistant with its index open, so the page starts ready (the first run ingests the
    bundled papers, with a progress bar on a terminal)."""
    where = settings.chroma_url or settings.home
    print(f"PaperScope: opening the collection “{settings.collection}” ({where}); "
          "the first run indexes the bundled papers and takes a few minutes.", file=sys.stderr, flush=True)
    assistant = open_index(settings)
    summary = assistant.summary()
    assistant.search(EXAMPLES[0], k=1)  # loads the embedder and keyword index now, not on the first question
    print(f"PaperScope: {summary.describe()}; mode {mode_label(assistant)}.", file=sys.stderr, flush=True)
    return assistant


def theme() -> gr.themes.Base:
    """System fonts only: the page must not wait for web fonts it cannot download offline."""
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def main(args: argparse.Namespace, settings: Settings) -> int:
    """`paperscope ui`: open the index, then serve the page until interrupted."""
    auth = login(settings)
    warning = exposure_warning(args.host, args.port, has_login=auth is not None, share=args.share)
    if warning:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    demo = build(open_assistant(settings))
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth,
                    auth_message="PaperScope: log in with the PAPERSCOPE_UI_AUTH user and password.",
                    theme=theme(), css=CSS, show_error=False, quiet=True, prevent_thread_lock=True)
    except OSError as exc:
        raise ConfigError(f"Cannot serve on {args.host}:{args.port} ({exc}). Choose another --port or --host.") from exc
    print(f"PaperScope: open {demo.local_url} in a browser" + (f" or {demo.share_url}" if demo.share_url else "")
          + " (Ctrl-C stops).", file=sys.stderr, flush=True)
    demo.block_thread()
    return 0
