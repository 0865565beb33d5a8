"""fetch_url's address policy on IPv6 forms that carry an IPv4 address: the embedded IPv4 is
what the packet reaches, so it is the one judged (no sockets: ``allows`` only parses)."""

from __future__ import annotations

import pytest

from lmsa.tools.web import AddressPolicy


@pytest.mark.parametrize(
    "address",
    [
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.5",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:c0a8:0101::1",  # 6to4 of 192.168.1.1
    ],
)
def test_ipv6_forms_embedding_a_private_ipv4_are_refused(address: str) -> None:
    assert not AddressPolicy().allows("example.com", address)


@pytest.mark.parametrize(
    "address",
    ["::ffff:93.184.216.34", "64:ff9b::5db8:d822", "2002:5db8:d822::1", "2606:4700::1111"],
)
def test_ipv6_forms_embedding_a_public_ipv4_are_allowed(address: str) -> None:
    assert AddressPolicy().allows("example.com", address)


def test_allow_list_of_the_ipv4_range_covers_its_embedded_forms() -> None:
    policy = AddressPolicy(["127.0.0.0/8"])
    assert policy.allows("local", "64:ff9b::7f00:1")
    assert policy.allows("local", "::7f00:1")


def test_ipv6_loopback_and_unspecified_stay_refused() -> None:
    assert not AddressPolicy().allows("x", "::1")
    assert not AddressPolicy().allows("x", "::")
