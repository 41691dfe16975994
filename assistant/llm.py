"""The LLM seam: one LlamaIndex `OpenAILike` client for any OpenAI-compatible endpoint, and
plain-sentence messages for the ways a call can fail. Nothing here builds prompts or reads answers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from assistant.errors import LLMError
from assistant.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

OPENAI_URL = "https://api.openai.com/v1"


def llm_configured(settings: Settings) -> bool:
    """LLM mode is on when an endpoint or an API key is set."""
    return bool(settings.llm_base_url or settings.llm_api_key)


def endpoint(settings: Settings) -> str:
    return (settings.llm_base_url or OPENAI_URL).rstrip("/")


def make_llm(settings: Settings, *, max_tokens: int | None = None) -> LLM | None:
    """The configured chat model, or None offline. Creating it makes no network call."""
    if not llm_configured(settings):
        return None
    from llama_index.llms.openai_like import OpenAILike

    class _OneRetryLayer(OpenAILike):
        """LlamaIndex retries failed calls (exponential back-off) and so does the `openai`
        client beneath it, which would multiply the attempts: keep LlamaIndex's layer only."""

        def _get_credential_kwargs(self, is_async: bool = False) -> dict[str, Any]:
            return {**super()._get_credential_kwargs(is_async), "max_retries": 0}

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    return _OneRetryLayer(
        model=settings.llm_model,
        api_base=endpoint(settings),
        api_key=key,
        is_chat_model=True,
        is_function_calling_model=False,
        context_window=settings.llm_context_window,
        max_tokens=max_tokens or settings.llm_max_tokens,
        temperature=0.0,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        additional_kwargs={"stream_options": {"include_usage": True}},  # token counts on streamed replies
    )


def verify_model(settings: Settings) -> None:
    """Check that the endpoint lists the configured model, so a wrong name fails with a clear
    message even on servers that would silently answer with another model. Endpoints without a
    model list are taken on trust. Raises `LLMError`."""
    import openai

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    client = openai.OpenAI(base_url=endpoint(settings), api_key=key, timeout=settings.llm_timeout,
                           max_retries=settings.llm_max_retries)
    try:
        served = [m.id for m in client.models.list()]
    except (openai.NotFoundError, openai.UnprocessableEntityError):
        return
    except Exception as exc:
        raise explain(exc, settings) from exc
    if served and settings.llm_model not in served:
        listed = ", ".join(sorted(served)[:8]) + (" …" if len(served) > 8 else "")
        raise LLMError(f"The LLM endpoint {endpoint(settings)} does not serve the model {settings.llm_model!r} "
                       f"(it lists: {listed}). Set PAPERSCOPE_LLM_MODEL to one of them.")


def explain(exc: BaseException, settings: Settings) -> LLMError:
    """A failed LLM call as one sentence that says what went wrong and what to do."""
    import httpx
    import openai

    where = endpoint(settings)
    model = settings.llm_model
    if isinstance(exc, LLMError):
        return exc
    # A streamed reply fails while it is read, outside the client's error wrapping: httpx's own errors.
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        message = (f"The LLM at {where} did not answer within {settings.llm_timeout:g} s. "
                   "Raise PAPERSCOPE_LLM_TIMEOUT or use a faster model.")
    elif isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        message = (f"The LLM endpoint {where} could not be reached. Start the server or fix "
                   "PAPERSCOPE_LLM_BASE_URL.")
    elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        message = (f"The LLM endpoint {where} refused the API key. Set a valid key in "
                   "PAPERSCOPE_LLM_API_KEY or OPENAI_API_KEY.")
    elif isinstance(exc, openai.NotFoundError):
        message = (f"The LLM endpoint {where} does not serve the model {model!r}. Set "
                   "PAPERSCOPE_LLM_MODEL to one of the models it lists at /models.")
    elif isinstance(exc, openai.RateLimitError):
        message = f"The LLM endpoint {where} is rate-limiting requests. Wait and try again."
    elif isinstance(exc, openai.APIStatusError):
        message = f"The LLM endpoint {where} answered with HTTP {exc.status_code}: {_short(exc.message)}"
    else:
        message = f"The LLM call to {where} failed: {type(exc).__name__}: {_short(str(exc))}"
    return LLMError(message)


def _short(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters, without the HTML of a server's error page."""
    text = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
