"""/ready's anonymous view (no sockets: the view and the key check are plain functions)."""

from __future__ import annotations

from starlette.requests import Request

from lmsa.server.ops import offers_valid_key, public_view
from lmsa.server.schemas import CheckResult, Readiness


def request(**headers: str) -> Request:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "headers": raw})


def test_public_view_hides_urls_and_the_store_address() -> None:
    full = Readiness(
        status="not_ready",
        reasons=["llm: http://10.0.0.5:1234/v1 unreachable"],
        checks={
            "llm": CheckResult(ok=False, detail="http://10.0.0.5:1234/v1 unreachable"),
            "checkpointer": CheckResult(ok=True, detail="redis://redis.internal:6379/0 answers"),
        },
    )
    shown = public_view(full).model_dump_json()
    assert "10.0.0.5" not in shown and "redis.internal" not in shown
    assert public_view(full).checks["checkpointer"].ok
    assert public_view(full).reasons == ["llm: failing"]


def test_only_a_listed_key_counts_as_authenticated() -> None:
    keys = ["k-one"]
    assert offers_valid_key(request(authorization="Bearer k-one"), keys)
    assert offers_valid_key(request(x_api_key="k-one"), keys)
    assert not offers_valid_key(request(x_api_key="k-two"), keys)
    assert not offers_valid_key(request(), keys)
