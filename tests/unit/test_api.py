"""api.HttpTransport on its own, against a scripted HTTP server on a loopback port (tests/hostile.py).

What it sends (auth, headers, path), what it reads of an answer (status, body up to the cap, the rate
limit headers), when a connection may go back to the pool, and how it reads the key/secret.
"""

import base64
import math

import pytest
import urllib3
from hostile import Hostile, burst_then_pause, refusing_port, reply

from rokt_forwarder.adapters.api import MAX_RESPONSE_BYTES, HttpTransport, new_pool
from rokt_forwarder.errors import CredentialsError, TransportError
from rokt_forwarder.ports import Credentials

USAGE = "X-mp-rate-limit-percentage-used"


class Secret:
    """A credentials reader that counts its reads; `refresh` reads are the forced ones."""

    def __init__(self, *values: Credentials) -> None:
        self.values = list(values) or [Credentials("key", "secret")]
        self.reads: list[bool] = []

    def __call__(self, refresh: bool, time_left: float) -> Credentials:
        self.reads.append(refresh)
        return self.values[min(len(self.reads), len(self.values)) - 1]


def pooled(pool: urllib3.PoolManager) -> int:
    """Connections waiting in the pools for reuse (idle slots hold None)."""
    pools = [pool.pools[key] for key in pool.pools.keys()]  # noqa: SIM118 - the container has no __iter__
    return sum(connection is not None for each in pools for connection in list(each.pool.queue))


def ready(url: str, pool: urllib3.PoolManager | None = None, secret: Secret | None = None) -> HttpTransport:
    api = HttpTransport(url, secret or Secret(), pool=pool or new_pool())
    api.load_credentials()
    return api


def head(request: bytes) -> str:
    return request.split(b"\r\n\r\n", 1)[0].decode().lower()


def basic_auth(request: bytes) -> bytes:
    """The user:password of a request's Basic Authorization header."""
    lines = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    (value,) = [
        line.split(b":", 1)[1].strip() for line in lines if line.lower().startswith(b"authorization:")
    ]
    scheme, token = value.split()
    assert scheme.lower() == b"basic"
    return base64.b64decode(token)


def test_a_post_goes_to_the_base_url_s_path_with_basic_auth_and_the_body() -> None:
    with Hostile([reply(202)]) as server:
        ready(server.url + "/v2/").post("/events", b'{"a":1}', timeout=5)
    (request,) = server.requests
    assert request.startswith(b"POST /v2/events HTTP/1.1\r\n")
    assert basic_auth(request) == b"key:secret"
    assert "content-type: application/json" in head(request)
    assert request.endswith(b'\r\n\r\n{"a":1}')


def test_nothing_is_sent_before_the_key_secret_were_read() -> None:
    with Hostile([reply(202)]) as server:
        api = HttpTransport(server.url, Secret(), pool=new_pool())
        with pytest.raises(CredentialsError, match="load_credentials"):
            api.post("/events", b"{}", timeout=5)
    assert server.requests == []


@pytest.mark.parametrize("name", [USAGE, USAGE.lower()])
def test_the_rate_limit_usage_header_is_read(name: str) -> None:
    with Hostile([reply(202, b"", {name: "37"})]) as server:
        answer = ready(server.url).post("/events", b"{}", timeout=5)
    assert (answer.status, answer.used_percent) == (202, 37.0)


@pytest.mark.parametrize("value", ["", "lots", "-1", "1001", "nan"])
def test_a_malformed_usage_header_means_none(value: str) -> None:
    with Hostile([reply(202, b"", {USAGE: value})]) as server:
        assert ready(server.url).post("/events", b"{}", timeout=5).used_percent is None


def test_a_body_of_exactly_the_cap_is_read_whole_and_its_connection_is_reused() -> None:
    pool = new_pool()
    with Hostile([reply(202, b"x" * MAX_RESPONSE_BYTES), reply(202)]) as server:
        api = ready(server.url, pool)
        answer = api.post("/events", b"{}", timeout=5)
        assert answer.body == b"x" * MAX_RESPONSE_BYTES
        assert pooled(pool) == 1, "read to its end: the connection is clean"


@pytest.mark.parametrize("come", [MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES + 1], ids=["cap", "cap+1"])
def test_a_longer_body_cut_at_the_cap_never_goes_back_to_the_pool(come: int) -> None:
    # `come` bytes at once, the rest later. Stopping at the cap (not one byte past it) would take the
    # body for complete; taking cap+1 bytes for complete would too. Either pools a connection that
    # still has the rest to come, and the next request would read it as its own answer.
    pool = new_pool()
    longer = burst_then_pause(burst=come, pause=0.3, size=MAX_RESPONSE_BYTES + 64 * 1024)
    with Hostile([longer, reply(202)]) as server:
        api = ready(server.url, pool)
        answer = api.post("/events", b"{}", timeout=5)
        assert (answer.status, answer.body) == (202, b" " * MAX_RESPONSE_BYTES)
        assert pooled(pool) == 0, "not read to its end: the connection is dropped"
        assert api.post("/events", b"{}", timeout=5).status == 202


def test_a_refused_connection_is_a_transport_error_naming_its_kind_and_the_host() -> None:
    with refusing_port() as port:
        api = ready(f"http://127.0.0.1:{port}/v2")
        with pytest.raises(TransportError, match=rf"^NewConnectionError to 127\.0\.0\.1:{port}$"):
            api.post("/events", b"{}", timeout=2)


def test_the_secret_is_read_once_then_again_only_when_asked_to() -> None:
    secret = Secret(Credentials("old", "s"), Credentials("new", "s"))
    with Hostile([reply(202)]) as server:
        api = ready(server.url, secret=secret)
        api.load_credentials()
        api.post("/events", b"{}", timeout=5)
        api.load_credentials(refresh=True, time_left=math.inf)
        api.post("/events", b"{}", timeout=5)
    assert secret.reads == [False, True]
    assert [basic_auth(request) for request in server.requests] == [b"old:s", b"new:s"]


def test_a_key_that_http_basic_cannot_carry_is_a_credentials_error_without_the_value() -> None:
    api = HttpTransport("http://127.0.0.1:9", Secret(Credentials("ключ", "s")), pool=new_pool())
    with pytest.raises(CredentialsError) as raised:
        api.load_credentials()
    assert "ключ" not in str(raised.value)


def test_restart_drops_pooled_connections_and_reads_the_secret_again() -> None:
    pool = new_pool()
    secret = Secret()
    with Hostile([reply(202)]) as server:
        api = ready(server.url, pool, secret)
        api.post("/events", b"{}", timeout=5)
        assert pooled(pool) == 1
        api.restart()
    assert pooled(pool) == 0
    assert secret.reads == [False, True]
