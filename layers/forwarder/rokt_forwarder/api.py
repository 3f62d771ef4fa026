"""The Event API over HTTPS: one urllib3 pool per container, Basic auth (docs/event-api.md)."""

import time
from collections.abc import Callable

import urllib3
from urllib3.exceptions import HTTPError, InvalidHeader
from urllib3.util.retry import Retry

from rokt_forwarder.errors import CredentialsError, TransportError
from rokt_forwarder.ports import Response
from rokt_forwarder.secret import Credentials

_POOL = urllib3.PoolManager(num_pools=4, maxsize=8, retries=False, block=False)
_RETRY_AFTER = Retry()
CONNECT_TIMEOUT_SECONDS = 3.05
READ_CHUNK_BYTES = 16 * 1024


class HttpTransport:
    """`ports.Transport` over urllib3: posts to `{base_url}{path}`; retries are the send loop's."""

    def __init__(
        self,
        base_url: str,
        credentials: Callable[[bool], Credentials],
        pool: urllib3.PoolManager = _POOL,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._pool = pool
        self._authorization: str | None = None

    def post(self, path: str, body: bytes, timeout: float) -> Response:
        headers = {
            "Authorization": self._authorization or self._authorize(refresh=False),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        deadline = time.monotonic() + timeout
        try:
            response = self._pool.request(
                "POST",
                self._base_url + path,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(total=timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout)),
                retries=False,
                preload_content=False,
            )
            try:
                data = _read_before(response, deadline)
            except BaseException:
                response.close()  # a half-read connection must not go back to the pool
                raise
            finally:
                response.release_conn()
        except HTTPError as error:
            raise TransportError(type(error).__name__) from error
        return Response(response.status, data, parse_retry_after(response.headers.get("Retry-After")))

    def reauthenticate(self) -> None:
        self._authorize(refresh=True)

    def _authorize(self, *, refresh: bool) -> str:
        credentials = self._credentials(refresh)
        try:
            header = urllib3.make_headers(basic_auth=f"{credentials.api_key}:{credentials.api_secret}")
        except UnicodeEncodeError:
            raise CredentialsError("the API key/secret must be Latin-1 text") from None
        self._authorization = header["authorization"]
        return self._authorization


def _read_before(response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
    """The body, but never past the deadline: urllib3's read timeout is per socket read, not total."""
    chunks = []
    while chunk := response.read1(READ_CHUNK_BYTES):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TransportError("response body still arriving at the request deadline")
    return b"".join(chunks)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds or an HTTP-date, as urllib3 already parses it; a bad header means none."""
    if not value:
        return None
    try:
        return max(_RETRY_AFTER.parse_retry_after(value), 0.0)
    except (InvalidHeader, ValueError, OverflowError):
        return None
