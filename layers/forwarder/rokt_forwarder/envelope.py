"""Unwrap the envelopes a conversion may arrive in: SNS notification, EventBridge event, or none.

Order matters: SNS (raw delivery off) may carry an EventBridge event, which carries the message.
"""

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rokt_forwarder.errors import RefusedError


def _no_constants(name: str) -> Any:
    raise RefusedError(f"body: {name} is not valid JSON")


# One decoder for every record: json.loads with hooks would build a new one per call.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constants)


def parse_json(text: str) -> Any:
    """JSON with exact decimals: 19.99 must reach the API as 19.99, not as a float's neighbour."""
    return _DECODER.decode(text)


@dataclass(frozen=True, slots=True)
class Opened:
    """A body out of its envelopes: what arrived (`document`) and the conversion payload it carries."""

    document: dict[str, Any]  # out of SNS: the EventBridge event itself, or the message
    message: dict[str, Any]  # the EventBridge event's detail, or the document
    source: str  # "sqs", "sns", "eventbridge" or "sns+eventbridge"


def unwrap(body: str) -> tuple[dict[str, Any], str]:
    """The conversion payload and the envelope it came in ("sqs", "sns", "eventbridge", "sns+eventbridge")."""
    opened = open_envelopes(body)
    return opened.message, opened.source


def open_envelopes(body: str) -> Opened:
    """The body out of SNS, keeping the EventBridge event: a producer's mapping reads its source and type."""
    try:
        payload = parse_json(body)
    except RefusedError:
        raise
    except (ValueError, RecursionError):
        raise RefusedError("body: not valid JSON") from None
    source = "sqs"
    if _is_sns(payload):
        message = payload.get("Message")
        if not isinstance(message, str):
            raise RefusedError("SNS notification: Message must be a string")
        try:
            payload = parse_json(message)
        except (ValueError, RecursionError):
            raise RefusedError("SNS notification: Message is not valid JSON") from None
        source = "sns"
    document = payload
    if _is_eventbridge(payload):
        payload = payload["detail"]
        source = "eventbridge" if source == "sqs" else "sns+eventbridge"
    if not isinstance(payload, dict):
        raise RefusedError("body: must be a JSON object")
    return Opened(document, payload, source)


def _is_sns(payload: object) -> bool:
    return isinstance(payload, dict) and payload.get("Type") == "Notification" and "TopicArn" in payload


def _is_eventbridge(payload: object) -> bool:
    return (
        isinstance(payload, dict)
        and "detail-type" in payload
        and "source" in payload
        and isinstance(payload.get("detail"), dict)
    )
