"""A real HTTP/1.1 server on a loopback port that misbehaves as a test scripts it.

The sandbox plays a well-behaved (if faulty) Event API; this one plays a hostile network: answers that
trickle, never end, never come, or are far too big. Each request gets the next `Behaviour` of the script
(the last one repeats); a behaviour writes whatever it likes to the socket.
"""

import contextlib
import gzip
import json
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Self

# Writes to the client socket; returns True to keep the connection for another request.
type Behaviour = Callable[[socket.socket, "Hostile"], bool]


@dataclass
class Hostile:
    script: Sequence[Behaviour]
    requests: list[bytes] = field(default_factory=list)  # each request's head and body, in arrival order
    bytes_sent: int = 0
    _server: socket.socket | None = None
    _connections: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        assert self._server is not None
        # On Linux close() alone leaves a thread blocked in accept() listening; shutdown wakes it.
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        with self._lock:
            for connection in self._connections:
                connection.close()

    def send(self, connection: socket.socket, data: bytes) -> None:
        connection.sendall(data)
        with self._lock:
            self.bytes_sent += len(data)

    def pause(self, seconds: float) -> bool:
        """Wait; False once the test is over (a behaviour then stops)."""
        return not self._stopping.wait(seconds)

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stopping.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        try:
            while request := _read_request(reader):
                with self._lock:
                    self.requests.append(request)
                    behaviour = self.script[min(len(self.requests), len(self.script)) - 1]
                if not behaviour(connection, self):
                    break
        except OSError:
            pass  # the client gave up on us: that is what most behaviours are for
        finally:
            connection.close()


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port bound and never listening while the block runs: every connection is refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


def _read_request(reader: "socket.SocketIO | object") -> bytes:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()  # type: ignore[attr-defined]
        if not line:
            return b""
        head += line
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return head + reader.read(length)  # type: ignore[attr-defined]


def reply(
    status: int, body: bytes | dict[str, object] = b"", headers: dict[str, str] | None = None
) -> Behaviour:
    """A well-formed answer on a kept-alive connection."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body

    def behave(connection: socket.socket, server: Hostile) -> bool:
        lines = [
            f"HTTP/1.1 {status} X",
            f"Content-Length: {len(data)}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        server.send(connection, ("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        return True

    return behave


def trickle_headers(every: float) -> Behaviour:
    """The status line, then one header byte every `every` seconds, never ending."""

    def behave(connection: socket.socket, server: Hostile) -> bool:
        server.send(connection, b"HTTP/1.1 202 Accepted\r\nX-Slow: ")
        while server.pause(every):
            server.send(connection, b"z")
        return False

    return behave


def trickle_body(every: float, length: int = 1000) -> Behaviour:
    """Headers at once, then one body byte every `every` seconds."""

    def behave(connection: socket.socket, server: Hostile) -> bool:
        server.send(connection, f"HTTP/1.1 202 Accepted\r\nContent-Length: {length}\r\n\r\n".encode())
        for _ in range(length):
            if not server.pause(every):
                return False
            server.send(connection, b" ")
        return True

    return behave


def huge_body(size: int, chunk: int = 64 * 1024) -> Behaviour:
    """A 202 whose body is `size` bytes of spaces, sent as fast as the client reads."""

    def behave(connection: socket.socket, server: Hostile) -> bool:
        server.send(connection, f"HTTP/1.1 202 Accepted\r\nContent-Length: {size}\r\n\r\n".encode())
        sent = 0
        while sent < size:
            server.send(connection, b" " * min(chunk, size - sent))
            sent += chunk
        return True

    return behave


def burst_then_pause(burst: int, pause: float, size: int) -> Behaviour:
    """A 202 of `size` body bytes: `burst` of them at once, the rest after `pause` seconds."""

    def behave(connection: socket.socket, server: Hostile) -> bool:
        server.send(connection, f"HTTP/1.1 202 Accepted\r\nContent-Length: {size}\r\n\r\n".encode())
        server.send(connection, b" " * burst)
        if server.pause(pause):
            server.send(connection, b" " * (size - burst))
        return True

    return behave


def gzip_bomb(inflated: int) -> Behaviour:
    """A 202 whose gzip body inflates to `inflated` bytes: a JSON errors list padded with spaces."""
    body = gzip.compress(b'{"errors": [{"message": "x"}]' + b" " * inflated + b"}", compresslevel=9)
    return reply(202, body, {"Content-Encoding": "gzip", "Content-Type": "application/json"})


def silence(connection: socket.socket, server: Hostile) -> bool:
    """Read the request, answer nothing, keep the connection open until the test ends."""
    while server.pause(0.05):
        pass
    return False
