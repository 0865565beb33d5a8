"""Which CPU mode llama.cpp runs in: ``native`` (everything the build uses) or ``safe`` (no extra
buffer types, so no weight repacking and no AMX tiles).

llama-cpp-python compiles llama.cpp for the build machine's CPU. Some CPUs advertise features
(AMX) that the kernel refuses to enable, often in VMs and containers; the first decode then dies
with SIGILL, taking the whole process with it, so there is nothing to catch. The only safe way to
find out is to try in another process: a child loads the model and decodes a few tokens. If it
dies by a signal, this machine gets the safe mode; if the safe mode dies too, the model cannot
run here and the caller is told why.

The verdict is cached in a small JSON file keyed by the probe's version, the llama-cpp-python
version, the model file and the CPU's flags, so the probe (a few seconds) runs once per machine,
build and model.
``LMSA_LOCAL_CPU_MODE=native|safe`` skips the probe; ``auto`` (the default) probes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

CpuMode = Literal["auto", "native", "safe"]
PROBE_TIMEOUT = 180.0  # seconds; a load plus a few tokens takes 1-5 s on a 2-core machine

ProbeCommand = Callable[[Path, str], Sequence[str]]


@dataclass(frozen=True)
class CpuVerdict:
    mode: Literal["native", "safe"]
    reason: str

    def describe(self) -> str:
        return f"{self.mode} ({self.reason})"


def probe_command(model: Path, mode: str) -> list[str]:
    """The child that tries ``mode``: this module run as a script."""
    return [sys.executable, "-m", "lmsa.local.cpu", str(model), "--mode", mode]


def choose_cpu_mode(
    model: Path,
    requested: CpuMode,
    cache_dir: Path,
    *,
    command: ProbeCommand = probe_command,
    timeout: float = PROBE_TIMEOUT,
) -> CpuVerdict:
    """The mode to load ``model`` in. ``native``/``safe`` are taken as given; ``auto`` uses the
    cached verdict for this build, model and CPU, or probes and caches the answer."""
    if requested != "auto":
        return CpuVerdict("safe" if requested == "safe" else "native", "set by LMSA_LOCAL_CPU_MODE")
    key = verdict_key(model)
    cache_file = cache_dir / "cpu-mode.json"
    cached = _read_cache(cache_file).get(key)
    if cached in ("native", "safe"):
        return CpuVerdict(
            "safe" if cached == "safe" else "native", "probed earlier on this machine"
        )
    native = _probe(command, model, "native", timeout)
    if native is None:
        verdict = CpuVerdict("native", "probe passed")
    elif native.startswith("signal"):
        safe = _probe(command, model, "safe", timeout)
        if safe is not None:
            from lmsa.local.model import LocalModelUnavailable

            raise LocalModelUnavailable(
                f"llama.cpp cannot run on this CPU: a test load died by {native} in native mode "
                f"and by {safe} in safe mode. Rebuild llama-cpp-python for a generic CPU: "
                "CMAKE_ARGS='-DGGML_NATIVE=OFF' python -m pip install --force-reinstall "
                "--no-cache-dir llama-cpp-python"
            )
        verdict = CpuVerdict("safe", f"native llama.cpp died by {native} in a probe")
    else:
        # Not a CPU fault (a broken file, no memory): the real load will report it properly.
        return CpuVerdict("native", f"probe inconclusive: {native}")
    _write_cache(cache_file, key, verdict.mode)
    return verdict


def verdict_key(model: Path) -> str:
    """What the verdict depends on: the llama.cpp build, the model file and the CPU."""
    try:
        build = version("llama_cpp_python")
    except PackageNotFoundError:
        build = "unknown"
    try:
        stat = model.stat()
        model_id = f"{model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        model_id = str(model)
    raw = f"{PROBE_VERSION}|{build}|{model_id}|{platform.machine()}|{cpu_flags()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


# Part of the cache key, so verdicts of a weaker probe are not trusted: a probe that decodes too
# short a prompt never reaches llama.cpp's repacked (AMX) path and passes where real use dies.
PROBE_VERSION = 3


def cpu_flags() -> str:
    """The CPU's feature flags (Linux), else the processor's name."""
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if line.startswith(("flags", "Features")):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _probe(command: ProbeCommand, model: Path, mode: str, timeout: float) -> str | None:
    """None when the child succeeded, else what went wrong (``signal SIGILL``, ``exit 1: ...``)."""
    try:
        done = subprocess.run(
            list(command(model, mode)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout:.0f} s"
    except OSError as error:
        return f"could not start: {error}"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = str(-done.returncode)
        return f"signal {name}"
    tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    return f"exit {done.returncode}: {tail[0][:200]}"


def _read_cache(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, key: str, mode: str) -> None:
    data = _read_cache(path)
    data[key] = mode
    with contextlib.suppress(OSError):  # without the cache the next start probes again
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, path)


def _run_probe(model: Path, mode: str) -> None:
    """Load ``model`` in ``mode`` and decode a few tokens (the step that traps)."""
    from lmsa.local.engine import LlamaEngine

    engine = LlamaEngine(model, context_length=512, threads=1, cpu_mode=mode)
    try:
        engine.probe_decode()
    finally:
        engine.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Load a GGUF model and decode a few tokens.")
    parser.add_argument("model", type=Path)
    parser.add_argument("--mode", choices=("native", "safe"), required=True)
    args = parser.parse_args(argv)
    _run_probe(args.model, args.mode)


if __name__ == "__main__":
    main()
