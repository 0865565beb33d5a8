"""Rules for every suite when pytest-xdist runs the tests on several workers.

pyproject's ``addopts`` runs ``python -m pytest`` with ``-n 3 --dist loadgroup``: tests go to
workers one by one, except those carrying ``@pytest.mark.xdist_group(name)``, which all run on
one worker, in order. A module- or class-scoped fixture is set up again on every worker that
runs one of its tests (and again after a test of another module ran in between), so a module
that defines such a fixture is grouped here as a whole: it starts its servers once, as it does
in a serial run. Tests using a session-scoped fixture of the project are grouped per fixture,
for the same reason. tests/README.md ("Running tests in parallel") has the other rules.
"""

from __future__ import annotations

import pytest
from _pytest.nodeid import NodeId

_MODULE_SCOPES = frozenset({"class", "module", "package"})


def _project_fixture(baseid: str) -> bool:
    return baseid == "tests" or baseid.startswith("tests/")


def _implied_group(item: pytest.Item) -> str | None:
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    if fixtureinfo is None:
        return None
    group = None
    for name, definitions in sorted(fixtureinfo.name2fixturedefs.items()):
        definition = definitions[-1]
        if not _project_fixture(definition.baseid):
            continue
        if definition.scope == "session":
            return f"{definition.baseid}::{name}"
        if definition.scope in _MODULE_SCOPES:
            group = item.nodeid.split("::", 1)[0]
    return group


def _group_names(item: pytest.Item) -> list[str]:
    return sorted(
        {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
    )


def _with_suffix(node_id: NodeId, suffix: str) -> NodeId:
    """``node_id`` with ``suffix`` after its last name and parameters, in every form pytest
    prints it (as one name: parameters would print after the suffix otherwise)."""
    last = node_id.names[-1] + (f"[{node_id.params}]" if node_id.params is not None else "")
    return NodeId(path=node_id.path, names=(*node_id.names[:-1], last + suffix))


# trylast: after the conftests that mark their own groups (tests/e2e/conftest.py).
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = _implied_group(item)
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group))
        # A worker tells the controller a test's group by the suffix ``@group`` on its node id.
        # pytest-xdist 3.8 sets that suffix through ``item._nodeid``, which pytest 9.2 no longer
        # reads (the node id comes from ``item._id``), so without this every group would be
        # spread over all workers. Done only on workers of a ``--dist loadgroup`` run, as xdist
        # does, and only when the suffix is not there yet.
        names = _group_names(item) if getattr(config.option, "loadgroup", False) else []
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix):
            item._id = _with_suffix(NodeId.parse(item.nodeid), suffix)
