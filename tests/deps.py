"""The one rule for a test whose dependency is missing (a module, Redis, the ``[local]`` extra).

Locally the test (or module) is skipped with the reason, so a developer without the extra or
without Redis can still run the rest. With ``CI`` set in the environment it fails instead: a
pipeline that lost a dependency must not go green by skipping the tests that needed it.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return bool(os.environ.get("CI"))


def missing(reason: str) -> NoReturn:
    """Skip (locally) or fail (under CI) for ``reason``; usable at module level and in tests."""
    if under_ci():
        pytest.fail(f"CI is set, so a missing dependency fails instead of skipping: {reason}")
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str, reason: str | None = None) -> ModuleType:
    """Import ``name`` or call :func:`missing`; returns the module."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        missing(f"{reason or f'needs {name}'} ({error})")
