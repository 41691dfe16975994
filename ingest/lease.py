"""The right to write to a collection, shared by every machine that uses the same Chroma server.

A lease is a record `lease-<n>` in the collection's `.leases` collection: its holder, its host
and process, and when it expires. Taking the right means adding lease n+1 once lease n is
released or expired; Chroma keeps the first record added under an id and ignores later adds,
so of two machines racing for n+1 exactly one reads its own name back. The holder renews the
lease as it writes and releases it at the end. A holder killed on this host is noticed at once
(its process is gone); one on another host, when its lease expires. It does not write papers."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from assistant.errors import IndexNotReadyError
from assistant.index import PaperIndex

log = logging.getLogger(__name__)

_PREFIX = "lease-"


class Lease:
    """Held by one ingest at a time across every data folder on the server."""

    def __init__(self, index: PaperIndex, seconds: float) -> None:
        self.index = index
        self.seconds = seconds
        self.owner = uuid.uuid4().hex
        self.number = 0

    def _latest(self) -> tuple[int, dict[str, Any] | None]:
        got = self.index.leases.get(include=["metadatas"])
        leases = {int(i[len(_PREFIX):]): dict(m) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
                  if i.startswith(_PREFIX)}
        if not leases:
            return 0, None
        number = max(leases)
        return number, leases[number]

    def acquire(self, wait: float) -> None:
        """Take the lease, waiting up to `wait` seconds for a holder to release it."""
        deadline = time.monotonic() + wait
        while True:
            number, holder = self._latest()
            if holder is None or _free(holder):
                if self._claim(number + 1):
                    return
                continue  # another machine claimed it first: look again
            if time.monotonic() >= deadline:
                raise IndexNotReadyError(
                    f"Another ingest (pid {holder.get('pid')} on {holder.get('host')}) is writing to the collection "
                    f"{self.index.settings.collection!r} on this Chroma server; its lease runs until "
                    f"{time.strftime('%H:%M:%S', time.localtime(float(holder.get('expires', 0))))} unless renewed. "
                    "Wait for it to finish, or set PAPERSCOPE_INGEST_LOCK_TIMEOUT=<seconds> to wait for it automatically."
                )
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))

    def _claim(self, number: int) -> bool:
        lease_id = f"{_PREFIX}{number}"
        self.index.leases.add(ids=[lease_id], embeddings=[[0.0]], metadatas=[self._metadata()])  # type: ignore[arg-type]
        got = self.index.leases.get(ids=[lease_id], include=["metadatas"])
        if not got["metadatas"] or got["metadatas"][0].get("owner") != self.owner:
            return False
        self.number = number
        older = [i for i in self.index.leases.get(include=[])["ids"]
                 if i.startswith(_PREFIX) and int(i[len(_PREFIX):]) < number]
        if older:
            self.index.leases.delete(ids=older)
        return True

    def _metadata(self, released: bool = False) -> dict[str, Any]:
        return {"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                "expires": time.time() + self.seconds, "released": released}

    def renew(self) -> None:
        """Extend the lease; raises when another ingest has taken it over (this one stalled too long)."""
        number, holder = self._latest()
        if number != self.number or holder is None or holder.get("owner") != self.owner:
            raise IndexNotReadyError(
                f"This ingest's lease on {self.index.settings.collection!r} expired and another ingest took it over; "
                "stopping. Run the ingest again: it continues where this one stopped."
            )
        self.index.leases.update(ids=[f"{_PREFIX}{self.number}"], metadatas=[self._metadata()])

    def release(self) -> None:
        number, holder = self._latest()
        if number == self.number and holder is not None and holder.get("owner") == self.owner:
            self.index.leases.update(ids=[f"{_PREFIX}{self.number}"], metadatas=[self._metadata(released=True)])


def _free(holder: dict[str, Any]) -> bool:
    """Released, expired, or held by a process of this host that is gone."""
    if holder.get("released") or float(holder.get("expires", 0)) < time.time():
        return True
    if holder.get("host") == socket.gethostname():
        try:
            os.kill(int(holder.get("pid", 0)), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


@contextmanager
def lease(index: PaperIndex, seconds: float, wait: float) -> Iterator[Lease]:
    """Hold the collection's write lease for the duration of the block."""
    held = Lease(index, seconds)
    held.acquire(wait)
    try:
        yield held
    finally:
        held.release()
