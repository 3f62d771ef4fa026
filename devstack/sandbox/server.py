"""The HTTP side: moves bytes between a socket and a ``handle(Request) -> Reply``, deciding nothing.

Keep-alive and Nagle off as the real API and pooled clients see them, bodies read in step with the
stream, and a reset answered with an RST, as a crashing load balancer does.
"""

import socket
import struct
import sys
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from devstack import oracle
from devstack.sandbox.replies import Reply, Request, error_reply

# Bodies beyond this are refused unread (and the connection closed) rather than drained.
READ_CAP: Final = 8 * oracle.MAX_REQUEST_BYTES

type Handle = Callable[[Request], Reply]


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handle: Handle, *, log_requests: bool = False) -> None:
        self.handle = handle
        self.log_requests = log_requests
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (its deadline came first) is no fault of the API: no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API and pooled clients use it
    # Headers and body leave in two writes: with Nagle on, the body waits for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: Server

    def _dispatch(self) -> None:
        length = self._content_length()
        if length is None or length > READ_CAP:
            self.close_connection = True
            status = HTTPStatus.LENGTH_REQUIRED if length is None else HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            reply = error_reply(status, f"body needs a Content-Length of at most {READ_CAP} bytes")
        else:
            body = self.rfile.read(length)  # read even when refused, so the kept-alive stream stays in step
            authorization, content_type = self.headers.get("Authorization"), self.headers.get("Content-Type")
            reply = self.server.handle(Request(self.command, self.path, body, authorization, content_type))
        if reply.reset:
            self._reset()
        else:
            self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def _content_length(self) -> int | None:
        if "Transfer-Encoding" in self.headers:
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        return length if length >= 0 else None

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _reset(self) -> None:
        """Drop the connection with an RST and no response.

        SO_LINGER 0 makes close() send RST; the socket really closes when finish() closes its files.
        """
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)
