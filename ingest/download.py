"""A polite HTTP client for the paper services: a User-Agent naming PaperScope, a minimum delay
between requests, retries with exponential back-off on 429, 5xx, dropped connections and pages
that come back unusable, and a short connect timeout so that an unreachable service fails at once.
It downloads bytes; what they mean is for its callers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType
from typing import Any

import httpx

from assistant.errors import FetchError
from assistant.settings import Settings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_WAIT = 300.0  # seconds: the longest back-off or Retry-After honoured for one retry


@dataclass
class _Failed:
    problem: str  # what went wrong, for messages
    wait: float | None = None  # seconds the server asked us to wait (Retry-After)


class BadPage(Exception):
    """Raised by a page check: the answer came back but is not usable yet (an empty or cut-off page,
    a throttling notice instead of data); the request is retried like a 503."""


def user_agent() -> str:
    try:
        version = metadata.version("paperscope")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"PaperScope/{version} (research-paper collection updater; python-httpx/{httpx.__version__})"


class Downloader:
    """GETs for one service (`name`, as messages call it), one at a time, at least
    `settings.fetch_delay` seconds apart. A connection refused or timed out before the service has
    answered once is a FetchError at once (offline, wrong URL); after that it is retried."""

    def __init__(self, settings: Settings, name: str, *, note: Callable[[str], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.requests = 0
        self._delay = settings.fetch_delay
        self._retries = settings.fetch_retries
        self._backoff = settings.fetch_backoff
        self._note = note
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None
        self._answered = False
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.fetch_timeout, connect=settings.fetch_connect_timeout),
            headers={"User-Agent": user_agent()}, follow_redirects=True,
        )

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._client.close()

    def get(self, url: str, params: dict[str, Any], check: Callable[[bytes], None] | None = None) -> bytes:
        """The body of a 200 answer that passes `check` (which raises BadPage to have it retried)."""
        attempts = self._retries + 1
        for attempt in range(attempts):
            result = self._attempt(url, params, check)
            if isinstance(result, bytes):
                return result
            if attempt == attempts - 1:
                raise FetchError(
                    f"{self.name} still failing after {attempts} attempt{'s' if attempts > 1 else ''} ({result.problem}). "
                    "The pages downloaded so far are kept and nothing was ingested: run the same command again "
                    "later to continue where it stopped."
                )
            delay = min(MAX_WAIT, max(self._backoff * 2**attempt, result.wait or 0.0))
            message = f"{self.name}: {result.problem}; retrying in {delay:.0f} s (retry {attempt + 1} of {self._retries})"
            log.warning(message)
            if self._note:
                self._note(message)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _attempt(self, url: str, params: dict[str, Any], check: Callable[[bytes], None] | None) -> bytes | _Failed:
        """The body, or what went wrong (and how long the server asked us to wait)."""
        self._wait_turn()
        self.requests += 1
        log.info("GET %s %s", url, params)
        try:
            response = self._client.get(url, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if not self._answered:
                raise FetchError(
                    f"Could not reach {self.name} at {url} ({_reason(exc)}). Check the network connection (and "
                    "any proxy), or point PaperScope at a reachable server; nothing was downloaded or ingested."
                ) from exc
            return _Failed(f"connection failed ({_reason(exc)})")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError(f"{self.name}: {url} is not a usable http(s) URL ({exc}); fix the setting") from exc
        except httpx.TransportError as exc:  # a read timeout, a dropped connection, a broken answer
            return _Failed(f"the connection failed mid-answer ({_reason(exc)})")
        finally:
            self._last = self._clock()
        self._answered = True
        status = response.status_code
        if status in RETRY_STATUSES or status >= 500:
            return _Failed(f"answered {status} {response.reason_phrase}", _retry_after(response))
        if status != 200:
            raise FetchError(f"{self.name} answered {status} {response.reason_phrase} for {response.url}: "
                             f"{response.text[:300].strip()!r}; check the command's arguments")
        if check:
            try:
                check(response.content)
            except BadPage as exc:
                return _Failed(str(exc))
        return response.content

    def _wait_turn(self) -> None:
        if self._last is None:
            return
        remaining = self._delay - (self._clock() - self._last)
        if remaining > 0:
            self._sleep(remaining)


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None
