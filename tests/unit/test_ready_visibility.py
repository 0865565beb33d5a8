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
            "llm": CheckResult(
                ok=False,
                detail="http://10.0.0.5:1234/v1 unreachable; http://10.0.0.6:1234/v1 unreachable",
                public="primary unreachable; backup unreachable",
            ),
            "checkpointer": CheckResult(
                ok=True, detail="redis://redis.internal:6379/0 answers", public="redis ok"
            ),
        },
    )
    assert "primary" not in full.model_dump_json()  # the public text is never serialised
    shown = public_view(full).model_dump_json()
    assert "10.0.0.5" not in shown and "redis.internal" not in shown
    assert public_view(full).checks["checkpointer"].ok
    assert public_view(full).checks["checkpointer"].detail == "redis ok"
    assert public_view(full).reasons == ["llm: primary unreachable; backup unreachable"]


def test_a_check_without_a_public_text_shows_only_its_outcome() -> None:
    full = Readiness(
        status="not_ready",
        reasons=["llm: x"],
        checks={"llm": CheckResult(ok=False, detail="http://10.0.0.5:1234/v1 unreachable")},
    )
    assert public_view(full).reasons == ["llm: failing"]


def test_only_a_listed_key_counts_as_authenticated() -> None:
    keys = ["k-one"]
    assert offers_valid_key(request(authorization="Bearer k-one"), keys)
    assert offers_valid_key(request(x_api_key="k-one"), keys)
    assert not offers_valid_key(request(x_api_key="k-two"), keys)
    assert not offers_valid_key(request(), keys)
