"""The start/stop/`with` shape shared by the local stack's servers and pollers."""

import threading
from abc import ABC, abstractmethod
from http.server import ThreadingHTTPServer
from typing import Self

# How soon stop() returns: serve_forever notices a shutdown only between polls.
_POLL_SECONDS = 0.05
# Addresses that mean "every interface": fine to bind to, but no client can connect to them.
_ANY_ADDRESS = frozenset({"", "0.0.0.0"})  # noqa: S104 - recognised, not bound to


def url_host(host: str) -> str:
    """The host to put in a URL for a server bound to `host`: loopback for a wildcard address."""
    return "127.0.0.1" if host in _ANY_ADDRESS else host


class Service(ABC):
    @abstractmethod
    def start(self) -> object: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class HttpService(Service):
    """An HTTP server of the local stack, serving from a daemon thread between start() and stop()."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @abstractmethod
    def _new_server(self) -> ThreadingHTTPServer:
        """The server to run, bound to its address."""

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"the {self._name} is already started")
        self._server = self._new_server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(_POLL_SECONDS,), name=self._name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self._name} is not started")
        return self._server.server_port
