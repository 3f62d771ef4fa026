"""The AWS Parameters and Secrets Lambda Extension's Secrets Manager endpoint, on the embedded AWS.

In Lambda the extension (a layer) serves ``GET /secretsmanager/get?secretId=ID`` on
``localhost:$PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` (2773 by default) to callers that send the
header ``X-Aws-Parameters-Secrets-Token: $AWS_SESSION_TOKEN``, and answers GetSecretValue's JSON from
a cache that lives ``SECRETS_MANAGER_TTL`` seconds (300 by default): a rotated secret is seen only
once its entry expires. This stand-in keeps that contract and reads the secret from moto, so the
forwarder's extension path and its cold start can be run and measured offline.
"""

import json
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from devstack.service import HttpService
from rokt_forwarder.adapters.secret import EXTENSION_PORT_VARIABLE, EXTENSION_TOKEN_HEADER

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

PATH: Final = "/secretsmanager/get"
TOKEN_HEADER: Final = EXTENSION_TOKEN_HEADER
PORT_VARIABLE: Final = EXTENSION_PORT_VARIABLE  # the forwarder reads it (rokt_forwarder/adapters/secret.py)
DEFAULT_TTL_SECONDS: Final = 300.0
# A stand-in for the session token Lambda gives every execution environment.
SESSION_TOKEN: Final = "local-session-token"  # noqa: S105 - a fixed local value, not a secret


class SecretsExtension(HttpService):
    """The endpoint on a local port (a real HTTP server in a daemon thread), counting what it served."""

    def __init__(
        self,
        client: "SecretsManagerClient",
        *,
        token: str = SESSION_TOKEN,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._client = client
        self.token = token
        self._ttl = ttl_seconds
        self._address = (host, port)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, bytes]] = {}
        super().__init__("secrets-extension")
        self.requests = 0  # answered with a secret, from the cache or from Secrets Manager
        self.fetches = 0  # GetSecretValue calls made

    def _new_server(self) -> "_Server":
        return _Server(self._address, self)

    def environment(self) -> dict[str, str]:
        """What Lambda sets in a function's environment when the extension layer is attached."""
        return {PORT_VARIABLE: str(self.port), "AWS_SESSION_TOKEN": self.token}

    def answer(self, target: str, token: str | None) -> tuple[int, bytes]:
        """Status and JSON body for one GET; socket-free, so the HTTP layer only moves bytes."""
        url = urlsplit(target)
        if url.path != PATH:
            return _error(HTTPStatus.NOT_FOUND, f"no endpoint {url.path}")
        if token != self.token:
            return _error(HTTPStatus.UNAUTHORIZED, f"missing or wrong {TOKEN_HEADER}")
        secret_ids = parse_qs(url.query).get("secretId", [])
        if len(secret_ids) != 1 or not secret_ids[0]:
            return _error(HTTPStatus.BAD_REQUEST, "secretId is required")
        secret_id = secret_ids[0]
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(secret_id)
            if cached is not None and now < cached[0]:
                self.requests += 1
                return HTTPStatus.OK, cached[1]
        try:
            value = self._client.get_secret_value(SecretId=secret_id)
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            code = error.response.get("Error", {}).get("Code", "ClientError")
            return status, json.dumps({"__type": code, "message": f"GetSecretValue failed: {code}"}).encode()
        except BotoCoreError as error:
            return _error(HTTPStatus.BAD_GATEWAY, f"GetSecretValue failed: {type(error).__name__}")
        body = json.dumps(_as_json(value)).encode()
        with self._lock:
            self.fetches += 1
            self.requests += 1
            if self._ttl > 0:
                self._cache[secret_id] = (now + self._ttl, body)
        return HTTPStatus.OK, body


def _as_json(value: Mapping[str, Any]) -> dict[str, Any]:
    """GetSecretValue's wire shape: no SDK metadata, dates as epoch seconds."""
    return {
        key: item.timestamp() if isinstance(item, datetime) else item
        for key, item in value.items()
        if key != "ResponseMetadata"
    }


def _error(status: HTTPStatus, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"__type": status.phrase, "message": message}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], extension: SecretsExtension) -> None:
        self.extension = extension
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: with Nagle on, the body waits for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        status, body = self.server.extension.answer(self.path, self.headers.get(TOKEN_HEADER))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per secret read would drown the local stack's output."""
