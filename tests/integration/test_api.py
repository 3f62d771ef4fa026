"""api.HttpTransport over real HTTP to a misbehaving server: what goes back to the connection pool."""

import json
import socket
import time

import pytest
import urllib3
from hostile import Hostile, burst_then_pause, gzip_bomb, huge_body, reply, trickle_body

from devstack.sandbox import Sandbox, SandboxConfig
from rokt_forwarder.adapters.api import MAX_RESPONSE_BYTES, HttpTransport, new_pool
from rokt_forwarder.errors import TransportError
from rokt_forwarder.ports import Credentials


def transport(url: str, pool: urllib3.PoolManager) -> HttpTransport:
    api = HttpTransport(url, lambda refresh, time_left: Credentials("key", "secret"), pool=pool)
    api.load_credentials()
    return api


def pooled_connections(pool: urllib3.PoolManager) -> int:
    """Connections waiting in the pools for reuse (idle slots hold None)."""
    keys = pool.pools.keys()
    return sum(connection is not None for key in keys for connection in list(pool.pools[key].pool.queue))


def test_a_kept_alive_answer_goes_back_to_the_pool() -> None:
    pool = new_pool()
    with Hostile([reply(202)]) as server:
        assert transport(server.url, pool).post("/events", b"{}", timeout=5).status == 202
    assert pooled_connections(pool) == 1


def test_a_compressed_answer_is_asked_not_to_be_and_is_never_inflated() -> None:
    with Hostile([gzip_bomb(10 * 1024 * 1024)]) as server:
        answer = transport(server.url, new_pool()).post("/events", b"{}", timeout=5)
    assert answer.status == 202
    assert answer.body[:2] == b"\x1f\x8b", "the gzip bytes as they came"
    assert b"accept-encoding: identity" in server.requests[0].lower()


def test_after_an_answer_abandoned_at_the_deadline_the_next_request_succeeds() -> None:
    with Hostile([trickle_body(every=0.3), reply(202)]) as server:
        api = transport(server.url, new_pool())
        with pytest.raises(TransportError, match="deadline"):
            api.post("/events", b"{}", timeout=1)
        assert api.post("/events", b"{}", timeout=5).status == 202


def test_an_answer_cut_at_the_byte_cap_never_goes_back_to_the_pool() -> None:
    # The rest of the body comes later: a pooled connection would give it to the next request.
    pool = new_pool()
    cut = burst_then_pause(burst=MAX_RESPONSE_BYTES + 100, pause=1.0, size=2 * MAX_RESPONSE_BYTES)
    with Hostile([cut, reply(202)]) as server:
        api = transport(server.url, pool)
        answer = api.post("/events", b"{}", timeout=5)
        assert (answer.status, len(answer.body)) == (202, MAX_RESPONSE_BYTES)
        assert pooled_connections(pool) == 0
        assert api.post("/events", b"{}", timeout=5).status == 202


def test_a_huge_answer_is_cut_without_being_read() -> None:
    with Hostile([huge_body(64 * MAX_RESPONSE_BYTES)]) as server:
        answer = transport(server.url, new_pool()).post("/events", b"{}", timeout=5)
        sent = server.bytes_sent
    assert (answer.status, len(answer.body)) == (202, MAX_RESPONSE_BYTES)
    assert sent < 32 * MAX_RESPONSE_BYTES


@pytest.mark.parametrize(("header", "seconds"), [("120", 120.0), ("0", 0.0), ("soon", None)])
def test_retry_after_is_read_from_the_answer(header: str, seconds: float | None) -> None:
    with Hostile([reply(429, {}, {"Retry-After": header})]) as server:
        answer = transport(server.url, new_pool()).post("/events", b"{}", timeout=5)
    assert (answer.status, answer.retry_after) == (429, seconds)


def test_a_reused_connection_is_held_to_the_deadline_too() -> None:
    # The second request goes on the first one's kept-alive connection, and that answer trickles.
    with Hostile([reply(202), trickle_body(every=0.3, length=20)]) as server:
        api = transport(server.url, new_pool())
        assert api.post("/events", b"{}", timeout=5).status == 202
        started = time.monotonic()
        with pytest.raises(TransportError, match="deadline"):
            api.post("/events", b"{}", timeout=1)
        assert time.monotonic() - started < 2.5, "the answer was abandoned at its deadline, not read out"


def test_the_share_of_the_rate_limit_the_sandbox_reports_is_read_from_each_acceptance() -> None:
    # The header pacing rests on: 2xx answers carry X-mp-rate-limit-percentage-used.
    batch = {
        "environment": "development",
        "user_identities": {"customerid": "c-1"},
        "events": [
            {
                "event_type": "custom_event",
                "data": {"event_name": "conversion", "custom_event_type": "transaction"},
            }
        ],
    }
    with Sandbox(SandboxConfig(rate=4, api_key="key", api_secret="secret")) as sandbox:
        api = transport(sandbox.url, new_pool())
        first = api.post("/events", json.dumps({**batch, "source_request_id": "a"}).encode(), timeout=5)
        second = api.post("/events", json.dumps({**batch, "source_request_id": "b"}).encode(), timeout=5)
    assert (first.status, first.used_percent) == (202, 25.0), "one batch of 4 a second"
    assert (second.status, second.used_percent) == (202, 50.0)


def test_a_name_with_several_unreachable_addresses_is_given_up_at_the_request_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15, item 3: five addresses whose connect hangs (a listener with a full backlog); urllib3
    alone gives each the 3.05 s connect timeout, 15 s in all, against a 2 s request."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))  # the backlog is full from here on
    address = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: [address] * 5)
    api = transport(f"http://hanging.example:{port}/v2", new_pool())
    started = time.monotonic()
    try:
        with pytest.raises(TransportError):
            api.post("/events", b"{}", timeout=2.0)
        assert time.monotonic() - started < 2.5
    finally:
        filler.close()
        listener.close()
