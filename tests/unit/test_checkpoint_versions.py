"""Channel versions of the Redis savers and the retention setting, without a Redis."""

from __future__ import annotations

import pytest

from lmsa.checkpoint.redis.base import RedisSaverBase
from lmsa.config import Settings


def test_versions_grow_as_strings_across_digit_rollovers() -> None:
    saver = RedisSaverBase()
    version = None
    seen: list[str] = []
    for _ in range(40 * 36):
        version = saver.get_next_version(version, None)
        seen.append(version)
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)
    assert all(len(v) == 13 for v in seen)


def test_a_new_version_sorts_after_one_written_by_earlier_releases() -> None:
    old = f"{74:032}.{0.9960235579646967:016}"
    new = RedisSaverBase().get_next_version(old, None)
    assert new > old
    assert RedisSaverBase().get_next_version(new, None) > new


@pytest.mark.parametrize(("raw", "expected"), [("all", None), ("", None), ("0", 0), ("7", 7)])
def test_keep_intermediate_setting(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: int | None
) -> None:
    monkeypatch.setenv("LMSA_CHECKPOINT_KEEP_INTERMEDIATE", raw)
    assert Settings().checkpoint_keep_intermediate == expected


def test_retention_is_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LMSA_CHECKPOINT_KEEP_INTERMEDIATE", raising=False)
    assert Settings().checkpoint_keep_intermediate == 20
