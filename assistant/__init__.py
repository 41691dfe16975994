"""PaperScope: answers about research-paper abstracts, every claim cited to its paper.

    from assistant import Assistant
    answer = Assistant().ask("Which papers use implicit PRMs?")
"""

from assistant.answers import CANNOT_ANSWER
from assistant.api import Assistant
from assistant.errors import ConfigError, IndexNotReadyError, LLMError, PaperScopeError, SourceError
from assistant.filters import Filters
from assistant.settings import Settings
from assistant.types import Answer, Citation, Hit, Usage

__all__ = [
    "CANNOT_ANSWER",
    "Answer",
    "Assistant",
    "Citation",
    "ConfigError",
    "Filters",
    "Hit",
    "IndexNotReadyError",
    "LLMError",
    "PaperScopeError",
    "Settings",
    "SourceError",
    "Usage",
]
