"""What passes between the HTTP layer and the API's logic, so the API can be driven without a socket."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

from devstack.ratelimit import Exceeded


@dataclass(frozen=True, slots=True)
class Request:
    """What the HTTP layer passes on."""

    method: str
    target: str
    body: bytes = b""
    authorization: str | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer; ``reset`` means answer nothing and reset the connection."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False


RESET_REPLY: Final = Reply(0, reset=True)


def errors_body(code: str, messages: Iterable[str]) -> bytes:
    """The API's error shape: ``{"errors": [{"code": ..., "message": ...}, ...]}``."""
    return json.dumps({"errors": [{"code": code, "message": message} for message in messages]}).encode()


def error_reply(status: HTTPStatus, *messages: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, errors_body(status.name, messages), headers)


def throttled_headers(seconds: int, limit: str = Exceeded.ACCOUNT) -> tuple[tuple[str, str], ...]:
    """A 429's headers as the API documents them: when to retry, and which limit was exceeded."""
    return (("Retry-After", str(seconds)), ("X-mp-rate-limit-exceeded", limit))
