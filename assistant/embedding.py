"""Embedders for LlamaIndex (ingest, and queries against a hosted model): the local MiniLM
(`assistant.minilm`) wrapped as a `BaseEmbedding`, or an OpenAI-compatible hosted model."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from assistant.errors import ConfigError
from assistant.minilm import MiniLM
from assistant.settings import DEFAULT_EMBED_MODEL, Settings


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 (int8 ONNX) as a LlamaIndex embedding; `model` shares an already loaded one."""

    model_name: str = DEFAULT_EMBED_MODEL
    _model: MiniLM = PrivateAttr()

    def __init__(self, embed_batch_size: int = 32, model: MiniLM | None = None, **kwargs: Any) -> None:
        super().__init__(embed_batch_size=embed_batch_size, **kwargs)
        self._model = model or MiniLM()

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        """Embed `texts` in batches of similar token length; vectors come back in the given order.

        Each batch is padded to its longest text, so batching texts in arrival order spends much
        of the model's time on padding. Sorting the call's texts by length first keeps every batch
        nearly pad-free; LlamaIndex still does the batching (and its events) on the sorted list."""
        lengths = self._model.token_lengths(texts)
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        vectors = super().get_text_embedding_batch([texts[i] for i in order], show_progress, **kwargs)
        restored: list[Embedding] = [[] for _ in texts]
        for position, vector in zip(order, vectors, strict=True):
            restored[position] = vector
        return restored

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._model.get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._model.get_query_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._model.embed(texts).tolist()


def make_embedder(settings: Settings, model: MiniLM | None = None) -> BaseEmbedding:
    """The embedder `settings` asks for: local MiniLM by default (reusing `model` when given), else a
    hosted OpenAI-compatible model."""
    if settings.embed_model == DEFAULT_EMBED_MODEL:
        return MiniLMEmbedding(embed_batch_size=settings.embed_batch_size, model=model)
    if settings.llm_api_key is None and settings.embed_base_url is None:
        raise ConfigError(
            f"Embedding model {settings.embed_model!r} is hosted: set OPENAI_API_KEY (or "
            f"PAPERSCOPE_EMBED_BASE_URL for another OpenAI-compatible server), or unset "
            f"PAPERSCOPE_EMBED_MODEL to use the local {DEFAULT_EMBED_MODEL}."
        )
    from llama_index.embeddings.openai import OpenAIEmbedding

    return OpenAIEmbedding(
        model_name=settings.embed_model,
        api_base=settings.embed_base_url,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused",
        embed_batch_size=settings.embed_batch_size,
        max_retries=settings.llm_max_retries,
        timeout=settings.llm_timeout,
    )
