"""PaperScope's one settings object: every knob, its default and its environment variable.

Nothing else in the project reads the environment; collaborators receive a `Settings`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"


def _default_home() -> Path:
    # XDG data dir when set, else ~/.local/share: the per-user place for data that outlives a run.
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "paperscope"


class Settings(BaseSettings):
    """Configuration, read from `PAPERSCOPE_*` environment variables (and `OPENAI_API_KEY`)."""

    model_config = SettingsConfigDict(env_prefix="PAPERSCOPE_", extra="ignore", populate_by_name=True)

    home: Path = Field(
        default_factory=_default_home,
        description="Data folder: the embedded Chroma store, the keyword index, the ingest lock and the pages "
        "`paperscope fetch` downloads.",
    )
    collection: str = Field(
        default="papers",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}[a-zA-Z0-9]$",
        description="Name of the Chroma collection that holds the papers.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a `chroma run` server (e.g. http://127.0.0.1:8000). Unset: embedded store under `home`.",
    )

    embed_model: str = Field(
        default=DEFAULT_EMBED_MODEL,
        description="Embedding model. The default runs locally on onnxruntime; any other name is "
        "requested from the OpenAI-compatible endpoint at `embed_base_url`.",
    )
    embed_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible embeddings endpoint for a hosted `embed_model` (unset: api.openai.com).",
    )
    embed_batch_size: int = Field(default=32, ge=1, le=2048, description="Texts per embedding call.")

    chunk_size: int = Field(
        default=100, ge=32, le=8192,
        description="Largest chunk, in tiktoken (cl100k_base) tokens, title excluded. 100 retrieved best on "
        "SciFact's train split (a paper scores by its best chunk; whole abstracts scored lower).",
    )
    chunk_overlap: int = Field(default=20, ge=0, le=1024, description="Tokens shared by neighbouring chunks.")

    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp, …), e.g. http://127.0.0.1:8080/v1. "
        "Setting it, or an API key, switches answers to LLM mode.",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Model name sent to the LLM endpoint.")
    llm_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PAPERSCOPE_LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"),
        description="API key for the LLM endpoint (`PAPERSCOPE_LLM_API_KEY` or `OPENAI_API_KEY`).",
    )
    llm_read_questions: bool = Field(
        default=True,
        description="In LLM mode, let the LLM propose the question's structured reading (topic, filters, shape); "
        "the code keeps only what checks out against the question and the catalog.",
    )
    llm_concurrency: int = Field(
        default=4, ge=1, le=64,
        description="LLM calls in flight when screening the candidates of a \"which papers…\" question "
        "(for llama.cpp, start the server with as many parallel slots).",
    )
    llm_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for one LLM call.")
    llm_max_retries: int = Field(default=2, ge=0, le=10, description="Retries of a failed LLM call.")
    llm_max_tokens: int = Field(default=512, ge=16, description="Largest completion, in tokens.")
    llm_context_window: int = Field(default=4096, ge=512, description="The model's context window, in tokens.")
    llm_price_prompt: float | None = Field(
        default=None, ge=0, description="Price in USD per million prompt tokens; with it answers report cost."
    )
    llm_price_completion: float | None = Field(
        default=None, ge=0, description="Price in USD per million completion tokens."
    )

    ui_auth: SecretStr | None = Field(
        default=None,
        description="Login for `paperscope ui` as `user:password`. With it the page asks for a login; "
        "without it, binding an address other than 127.0.0.1 prints a warning.",
    )

    ingest_lock_timeout: float = Field(
        default=0.0, ge=0, description="Seconds an ingest waits for another running ingest before it stops."
    )
    ingest_lease_seconds: float = Field(
        default=600.0, gt=0,
        description="How long an ingest's write lease on the collection lasts without renewal (it is renewed "
        "after every group of chunks written). Another machine on the same Chroma server may take over a lease "
        "that has expired, so keep it above the time one group takes to embed.",
    )

    arxiv_api_url: str = Field(
        default="https://export.arxiv.org/api/query",
        description="arXiv's Atom API endpoint, queried by `paperscope fetch arxiv`.",
    )
    daily_papers_url: str = Field(
        default="https://huggingface.co/api/daily_papers",
        description="Hugging Face's Daily Papers API endpoint, queried by `paperscope fetch daily-papers`.",
    )
    fetch_delay: float = Field(
        default=3.0, ge=0,
        description="Seconds between two requests to a paper service (arXiv asks for 3), retries included.",
    )
    fetch_retries: int = Field(
        default=4, ge=0, le=10,
        description="Retries of a request answered with 429 or 5xx or cut off mid-answer. A refused or timed-out "
        "connection is retried only once the service has answered in the run: an unreachable one fails at once.",
    )
    fetch_backoff: float = Field(
        default=5.0, ge=0,
        description="Seconds before the first retry, doubled for each further one (a Retry-After header wins "
        "when longer).",
    )
    fetch_connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for a paper service to accept the connection."
    )
    fetch_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for a paper service's answer once connected."
    )
    arxiv_page_size: int = Field(default=200, ge=1, le=2000, description="Papers per arXiv API request.")
    daily_papers_page_size: int = Field(
        default=50, ge=1, le=100, description="Papers per Daily Papers API request."
    )

    @property
    def embedder_id(self) -> str:
        """What an index records about the embedder that built it; a mismatch refuses queries."""
        if self.embed_model == DEFAULT_EMBED_MODEL:
            return f"local:{DEFAULT_EMBED_MODEL}:int8-onnx"
        return f"openai:{self.embed_base_url or 'api.openai.com'}:{self.embed_model}"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def catalog_path(self) -> Path:
        """The local catalog (records and keyword index) of the collection: a cache of what Chroma holds."""
        return self.home / "catalog" / f"{self.collection}.sqlite3"

    @property
    def upgrade_path(self) -> Path:
        """The records of a collection whose upgrade from an earlier layout has begun and not finished."""
        return self.home / f"upgrade-{self.collection}.jsonl"

    @property
    def term_weights_path(self) -> Path:
        return self.home / "keyword" / f"{self.collection}.terms.json"
