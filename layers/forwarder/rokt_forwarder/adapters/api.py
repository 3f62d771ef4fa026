"""The Event API over HTTPS: one urllib3 pool per container, Basic auth (docs/event-api.md)."""

import contextlib
import math
import socket
import threading
import time
from contextvars import ContextVar
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InvalidHeader,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.connection import allowed_gai_family
from urllib3.util.retry import Retry

from rokt_forwarder.config import endpoint
from rokt_forwarder.errors import CredentialsError, TransportError
from rokt_forwarder.ports import Response, SecretReader

CONNECT_TIMEOUT_SECONDS = 3.05
READ_CHUNK_BYTES = 16 * 1024
# The API answers with an empty body or a short errors list; anything longer is not read whole.
MAX_RESPONSE_BYTES = 256 * 1024
_RETRY_AFTER = Retry()
# The API's rate-limit headers (docs/event-api.md, "Rate limit"): usage on a 2xx, the limit hit on a 429.
USAGE_HEADER = "X-mp-rate-limit-percentage-used"
EXCEEDED_HEADER = "X-mp-rate-limit-exceeded"


class _Watchdog:
    """Shuts a request's sockets down at its deadline, from a timer thread.

    urllib3's timeouts bound each socket operation, not the response: a server that trickles its
    headers or body would hold the invocation past Lambda's deadline. A shut-down socket makes the
    blocked read return at once, and the request fails like any broken connection.
    """

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._stopped = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            if sock is None or self._stopped:
                return
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def stop(self) -> bool:
        """Disarm; True if the deadline passed first (then the sockets are shut and must not be reused)."""
        with self._lock:
            self._stopped = True
        self._timer.cancel()
        return self.fired

    def _fire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.fired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to interrupt
        sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG: ContextVar[_Watchdog | None] = ContextVar("rokt_forwarder_watchdog", default=None)


class _WatchedHTTPConnection(HTTPConnection):
    """A connection whose socket the current request's watchdog can shut down.

    Watched three times: the TCP socket as soon as it connects (the TLS handshake is bounded too),
    the TLS socket that replaces it, and a pooled socket a request reuses. Before that, the connect
    tries the name's addresses within the request's deadline (`_connect_within`); the name lookup
    has the resolver's own timeout.
    """

    # urllib3's private hook, safe at the pinned version only: tests/unit/test_urllib3_pin.py guards it.
    def _new_conn(self) -> socket.socket:
        watchdog = _WATCHDOG.get()
        if watchdog is None:
            return super()._new_conn()
        try:
            sock = _connect_within(
                (self._dns_host, self.port), self.timeout, watchdog.deadline, self.socket_options
            )
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        except TimeoutError as error:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from error
        except OSError as error:
            raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error
        watchdog.watch(sock)
        return sock

    def connect(self) -> None:
        super().connect()
        if watchdog := _WATCHDOG.get():
            watchdog.watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if (watchdog := _WATCHDOG.get()) and self.sock is not None:  # a pooled, connected socket
            watchdog.watch(self.sock)
        super().request(*args, **kwargs)


def _connect_within(
    address: tuple[str, int], per_address: Any, deadline: float, options: Any
) -> socket.socket:
    """A connected socket to the first address of the name that answers, all tries before `deadline`.

    urllib3's create_connection gives each address the whole connect timeout, so a name with five
    unreachable addresses takes five times it, past any deadline; this shares one deadline instead.
    """
    host, port = address
    error: OSError = TimeoutError("no time left to connect")
    for family, kind, proto, _, where in socket.getaddrinfo(
        host.strip("[]"), port, allowed_gai_family(), socket.SOCK_STREAM
    ):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed while connecting")
        sock = socket.socket(family, kind, proto)
        try:
            for option in options or ():
                sock.setsockopt(*option)
            sock.settimeout(min(left, per_address) if isinstance(per_address, (int, float)) else left)
            sock.connect(where)
        except OSError as failed:
            sock.close()
            error = failed
            continue
        return sock
    raise error


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _TlsPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def new_pool() -> urllib3.PoolManager:
    """A pool manager whose connections honour a request's deadline (one per container)."""
    manager = urllib3.PoolManager(num_pools=4, maxsize=8, retries=False, block=False)
    manager.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}
    return manager


_POOL = new_pool()


class HttpTransport:
    """`ports.Transport` over urllib3: posts to `{base_url}{path}`; retries are the send loop's."""

    def __init__(
        self,
        base_url: str,
        credentials: SecretReader,
        pool: urllib3.PoolManager = _POOL,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._host = endpoint(self._base_url)  # what a failure names: the operator's first question
        self._credentials = credentials
        self._pool = pool
        self._authorization: str | None = None

    def post(self, path: str, body: bytes, timeout: float) -> Response:
        """The answer, read whole within `timeout` seconds once connected, or TransportError naming
        the host (never the key/secret, never the path).

        The body is read up to MAX_RESPONSE_BYTES and never decompressed: a longer one is cut (and its
        connection dropped), so a huge or garbled answer costs no memory; its status still counts.
        """
        if self._authorization is None:
            raise CredentialsError("the key/secret were not read: load_credentials() first")
        headers = {
            "Authorization": self._authorization,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        }
        watchdog = _Watchdog(timeout)
        token = _WATCHDOG.set(watchdog)
        response: urllib3.BaseHTTPResponse | None = None
        try:
            response = self._pool.request(
                "POST",
                self._base_url + path,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(total=timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout)),
                retries=False,
                preload_content=False,
                decode_content=False,
            )
            data = _read_capped(response)
        except (HTTPError, OSError) as error:
            if response is not None:
                response.close()  # half-read: it must not go back to the pool
            late = watchdog.fired or isinstance(error, ReadTimeoutError)
            why = self._late() if watchdog.fired else f"{type(error).__name__} to {self._host}"
            raise TransportError(why, answered_late=late) from error
        finally:
            _WATCHDOG.reset(token)
            cut_short = watchdog.stop()
        if cut_short or len(data) > MAX_RESPONSE_BYTES:
            response.close()  # its socket was shut, or its body is not read whole: not for the pool
            if cut_short:  # what arrived may be a fragment (a status line without its headers)
                raise TransportError(self._late(), answered_late=True)
        else:
            response.release_conn()
        return Response(
            response.status,
            data[:MAX_RESPONSE_BYTES],
            parse_retry_after(response.headers.get("Retry-After")),
            parse_percent(response.headers.get(USAGE_HEADER)),
            _limit_name(response.headers.get(EXCEEDED_HEADER)),
        )

    def _late(self) -> str:
        return f"no complete answer from {self._host} before the request deadline"

    def restart(self) -> None:
        """After a SnapStart restore: the snapshot's connections are dead and its secret may be stale."""
        self._pool.clear()
        self.load_credentials(refresh=True)

    def load_credentials(self, refresh: bool = False, time_left: float = math.inf) -> None:
        if self._authorization is not None and not refresh:
            return
        credentials = self._credentials(refresh, time_left)
        try:
            header = urllib3.make_headers(basic_auth=f"{credentials.api_key}:{credentials.api_secret}")
        except UnicodeEncodeError:
            raise CredentialsError("the API key/secret must be Latin-1 text") from None
        self._authorization = header["authorization"]


def _read_capped(response: urllib3.BaseHTTPResponse) -> bytes:
    """The body, or its first MAX_RESPONSE_BYTES + 1 bytes when it is longer (the rest is never read)."""
    chunks = []
    size = 0
    while size <= MAX_RESPONSE_BYTES and (chunk := response.read1(READ_CHUNK_BYTES)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _limit_name(value: str | None) -> str | None:
    """Which limit a 429 names (org, account, acceleration, ...): a short word, lower case, or None."""
    name = (value or "").strip().lower()
    return name if name.isascii() and name.isalpha() and len(name) <= 32 else None


def parse_percent(value: str | None) -> float | None:
    """A percentage header; a missing or malformed one means none."""
    try:
        percent = float(value) if value else None
    except ValueError:
        return None
    return percent if percent is not None and 0 <= percent <= 1000 else None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds or an HTTP-date, as urllib3 already parses it; a bad header means none."""
    if not value:
        return None
    try:
        return max(_RETRY_AFTER.parse_retry_after(value), 0.0)
    except (InvalidHeader, ValueError, OverflowError):
        return None
