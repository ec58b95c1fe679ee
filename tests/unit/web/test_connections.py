"""Per-address connection counting (over real sockets: tests/security/test_sec_timeouts)."""

from __future__ import annotations

from cargohold.web.connections import Limits


def test_admit_counts_per_address_up_to_the_cap() -> None:
    limits = Limits(body_timeout=60, max_per_client=2)
    assert limits.admit("10.0.0.1") and limits.admit("10.0.0.1")
    assert not limits.admit("10.0.0.1")
    assert limits.admit("10.0.0.2"), "another address has its own count"
    assert limits.open_by_client == {"10.0.0.1": 2, "10.0.0.2": 1}


def test_release_frees_a_slot_and_forgets_idle_addresses() -> None:
    limits = Limits(body_timeout=60, max_per_client=1)
    assert limits.admit("::1")
    limits.release("::1")
    assert limits.open_by_client == {}
    assert limits.admit("::1")
    limits.release("::1")
    limits.release("::1")  # a stray release never goes negative
    assert limits.open_by_client == {}
