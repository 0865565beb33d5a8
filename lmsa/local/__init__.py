"""An embedded default LLM: llama.cpp serving a GGUF model (by default the packaged
Qwen2.5-Coder-0.5B-Instruct) behind an LM Studio-compatible HTTP API, for machines without
LM Studio.

Optional: needs the ``[local]`` extra. Importing this package is cheap and works without the
extra; :func:`start_local_server` says exactly what to install when it is missing.
"""

from lmsa.local.model import (
    INSTALL_COMMAND,
    LocalModelUnavailable,
    missing_extra,
    require_extra,
    resolve_model_path,
)
from lmsa.local.server import LocalServer, load_engine, start_local_server

__all__ = [
    "INSTALL_COMMAND",
    "LocalModelUnavailable",
    "LocalServer",
    "load_engine",
    "missing_extra",
    "require_extra",
    "resolve_model_path",
    "start_local_server",
]
