"""The Event API over HTTPS: one urllib3 pool per container, Basic auth as the guide says."""

from collections.abc import Callable

import urllib3
from urllib3.exceptions import HTTPError, InvalidHeader
from urllib3.util.retry import Retry

from rokt_forwarder.delivery import Response, TransportError
from rokt_forwarder.secret import Credentials

_POOL = urllib3.PoolManager(num_pools=4, maxsize=8, retries=False, block=False)
_RETRY_AFTER = Retry()
CONNECT_TIMEOUT_SECONDS = 3.05


class HttpTransport:
    """Posts to `{base_url}{path}`; retries and deadlines are the caller's (delivery.py)."""

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
        try:
            response = self._pool.request(
                "POST",
                self._base_url + path,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=min(CONNECT_TIMEOUT_SECONDS, timeout), read=timeout),
                retries=False,
            )
        except HTTPError as error:
            raise TransportError(type(error).__name__) from error
        return Response(response.status, response.data, _retry_after(response.headers.get("Retry-After")))

    def reauthenticate(self) -> None:
        self._authorize(refresh=True)

    def _authorize(self, *, refresh: bool) -> str:
        credentials = self._credentials(refresh)
        header = urllib3.make_headers(basic_auth=f"{credentials.api_key}:{credentials.api_secret}")
        self._authorization = header["authorization"]
        return self._authorization


def _retry_after(value: str | None) -> float | None:
    """Seconds or an HTTP-date, as urllib3 already parses it; a bad header means none."""
    if not value:
        return None
    try:
        return max(_RETRY_AFTER.parse_retry_after(value), 0.0)
    except InvalidHeader:
        return None
