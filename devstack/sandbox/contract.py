"""The Event API's contract where it meets a request: credentials, bodies, and the API's wording.

Judging a batch's content is devstack/oracle.py's (mParticle's schema and documented limits); this reads
the body into batches, keeps each batch's text as sent, and words refusals as mParticle does.
"""

import base64
import binascii
import hmac
import json
import re
from datetime import datetime
from http import HTTPStatus
from typing import Any, Final

from devstack.oracle import GUID_RULE, Violation
from rokt_forwarder.envelope import parse_json
from rokt_forwarder.errors import RefusedError

EVENTS: Final = "/v2/events"
BULK: Final = "/v2/bulkevents"
_BETWEEN_ITEMS: Final = re.compile(r"[ \t\n\r,]*")
_LINE_BREAKS: Final = re.compile(r"[\r\n]+")
# Only finds where each bulk item ends: parse_json has already judged the whole text, values included.
_ITEM_END: Final = json.JSONDecoder()


def check_auth(authorization: str | None, key: str, secret: str) -> HTTPStatus | None:
    """401 when no credentials are sent, 403 when they are wrong; compared in constant time."""
    if not authorization:
        return HTTPStatus.UNAUTHORIZED
    scheme, _, token = authorization.partition(" ")
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except binascii.Error:
        given = b""
    matches = hmac.compare_digest(given, f"{key}:{secret}".encode())
    return None if matches and scheme.lower() == "basic" else HTTPStatus.FORBIDDEN


class BodyError(ValueError):
    """The body cannot be read as the endpoint's batch (or array of batches)."""


def parse_batches(body: bytes, *, bulk: bool) -> list[tuple[Any, str]]:
    """Each batch with its text as sent, so its size is measured, and its record kept, exactly as sent.

    Parsed as the forwarder parses (exact decimals, no NaN or Infinity), so both judge the same values.
    """
    try:
        text = body.decode()
        parsed = parse_json(text)
    except UnicodeDecodeError:
        raise BodyError("body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BodyError(f"body is not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno})") from None
    except RefusedError as exc:
        raise BodyError(exc.reason) from None
    except RecursionError:
        raise BodyError("body is not valid JSON (nested too deeply)") from None
    if not bulk:
        return [(parsed, text.strip(" \t\n\r"))]
    if not isinstance(parsed, list) or not parsed:
        raise BodyError("body must be a non-empty JSON array of batches")
    found, end = [], text.index("[") + 1
    for batch in parsed:  # already validated, so only whitespace and commas lie between items
        gap = _BETWEEN_ITEMS.match(text, end)
        start = gap.end() if gap else end
        end = _ITEM_END.raw_decode(text, start)[1]
        found.append((batch, text[start:end]))
    return found


def bulk_message(index: int, violation: Violation) -> str:
    """mParticle's wording, so a client can find the batch with the regex ``Path '\\[(\\d+)\\]``.

    The value is never echoed (the API HTML-escapes it; here it is a fixed placeholder): values are PII.
    """
    path = f"[{index}].{violation.path}" if violation.path else f"[{index}]"
    if violation.rule == GUID_RULE:
        converting = "Error converting value &quot;***&quot; to type 'System.Guid'."
        return f"{converting} Path '{path}', line 1, position 1."
    return f"Invalid value. Path '{path}', rule: {violation.rule}."


def record_line(endpoint: str, raw: str, received: datetime) -> str:
    """A JSONL line that embeds the batch text as sent (numbers unchanged).

    Line breaks in JSON text can only be whitespace between tokens, so spaces may replace them.
    """
    batch = _LINE_BREAKS.sub(" ", raw)
    return (
        f'{{"received_at": {json.dumps(received.isoformat())}, "endpoint": "{endpoint}", "batch": {batch}}}\n'
    )
