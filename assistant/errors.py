"""The one error family PaperScope raises; every message says what to do next."""

from __future__ import annotations


class PaperScopeError(Exception):
    """Base of every error PaperScope raises on purpose. The message names the fix."""


class ConfigError(PaperScopeError):
    """Settings are missing or contradict each other."""


class IndexNotReadyError(PaperScopeError):
    """The index is empty, locked by another ingest, or was built by another embedder."""


class OldLayoutError(IndexNotReadyError):
    """The collection was written in an earlier layout: `ingest.upgrade` rewrites it."""


class SourceError(PaperScopeError):
    """An input file could not be read or parsed; carries the path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


class FetchError(PaperScopeError):
    """A paper service (arXiv, Hugging Face) could not be reached or gave no usable answer."""


class LLMError(PaperScopeError):
    """The configured LLM endpoint could not give an answer."""
