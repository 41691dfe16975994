"""Real servers for the tests (`chroma run`, llama.cpp's server, `paperscope ui`): a free port,
start in its own process session, wait until a URL answers, stop the whole session."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process, the URL that answers when it is ready, and its combined output."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def start(command: list[str], url: str, log: Path, *, seconds: float, name: str, ready_path: str = "",
          env: dict[str, str] | None = None, cwd: Path | None = None, headers: dict[str, str] | None = None) -> Server:
    """Start `command` and wait until `url + ready_path` answers 200; fail with its output when
    it exits or does not answer within `seconds`."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                   cwd=cwd)
    server = Server(process, url, log)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{server.output()[-3000:]}")
        try:
            request = urllib.request.Request(url + ready_path, headers=headers or {})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    pytest.fail(f"{name} did not answer within {seconds:g} s:\n{server.output()[-3000:]}")
