"""snapstart: the hooks that make a restored snapshot safe, called as Lambda would call them."""

import random
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
import urllib3
from fakes import Edges, FakeApi, FakeClock

from rokt_forwarder import pacing
from rokt_forwarder.adapters import snapstart
from rokt_forwarder.adapters.api import HttpTransport
from rokt_forwarder.pacing import Pacer
from rokt_forwarder.ports import Credentials


class Secret:
    """Credentials as a secret reader gives them; remembers how it was asked."""

    def __init__(self) -> None:
        self.reads: list[bool] = []

    def __call__(self, refresh: bool, time_left: float) -> Credentials:
        self.reads.append(refresh)
        return Credentials("key", f"secret-{len(self.reads)}")


def restored() -> tuple[Edges, HttpTransport, Secret, urllib3.PoolManager]:
    edges = Edges(FakeApi())
    edges.forward.pacer = Pacer(270, 5, FakeClock(), random.Random(1))
    secret = Secret()
    pool = urllib3.PoolManager()
    pool.connection_from_url("https://s2s.us1.mparticle.com/v2")
    transport = HttpTransport("https://s2s.us1.mparticle.com/v2", secret, pool=pool)
    transport.load_credentials()
    return edges, transport, secret, pool


def test_after_restore_each_container_gets_its_own_randomness() -> None:
    first, second = restored()[0], restored()[0]
    assert first.forward.rng.random() == second.forward.rng.random(), "as restored from one snapshot"
    snapstart.after_restore(first.forward, restored()[1])
    snapstart.after_restore(second.forward, restored()[1])
    assert first.forward.rng.random() != second.forward.rng.random()


def test_after_restore_the_pacer_starts_afresh() -> None:
    edges, transport, _, _ = restored()
    assert edges.forward.pacer is not None
    edges.forward.pacer.observe(429, 10, None, 60)
    snapstart.after_restore(edges.forward, transport)
    assert edges.forward.pacer.rate == pytest.approx(pacing.START * edges.forward.pacer.fair_share)
    assert edges.forward.pacer.take(1, within=1.0) is not None, "the snapshot's Retry-After is gone"


def test_after_restore_connections_are_new_and_the_secret_is_read_again() -> None:
    edges, transport, secret, pool = restored()
    assert len(pool.pools) == 1
    snapstart.after_restore(edges.forward, transport)
    assert len(pool.pools) == 0
    assert secret.reads == [False, True]


def test_registering_is_a_no_op_outside_the_snapstart_runtime() -> None:
    edges, transport, _, _ = restored()
    assert snapstart.register(edges.forward, transport) is False


def test_registering_hands_the_hook_to_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_after_restore = lambda hook, *args: hooks.append((hook, args))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    edges, transport, secret, _ = restored()
    assert snapstart.register(edges.forward, transport) is True
    ((hook, args),) = hooks
    hook(*args)
    assert secret.reads == [False, True]
