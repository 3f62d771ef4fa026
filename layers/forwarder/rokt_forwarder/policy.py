"""What an Event API answer means for the batches of a request, and what the send loop does next.

Pure decisions, so every status of the API's error table (docs/event-api.md) is tested without a network.
"""

import json
import random
import re
from dataclasses import dataclass, field

from rokt_forwarder.reasons import clip, redact, unescape

# "Path '[3].user_identities.email'": the batch's index in the request, then the field. A request
# holds at most 100 batches: an index of more digits names none (and int() refuses 4,300 of them).
_BATCH_INDEX = re.compile(r"Path '\[([0-9]{1,9})\]\.?")
RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class Accepted:
    """2xx: delivered, except batches the body's errors[] refuse (by index) or cannot place."""

    refused: dict[int, str] = field(default_factory=dict)
    unplaced: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Split:
    """400/413: the request as a whole was refused; split it to find the bad batch (a lone one is refused)."""

    reason: str


@dataclass(frozen=True, slots=True)
class ReloadCredentials:
    """401/403: the key/secret is missing or wrong, maybe rotated since it was loaded: reload it once."""

    reason: str


@dataclass(frozen=True, slots=True)
class Retry:
    """408, 429 and 5xx: post again after `after` seconds if the API said (Retry-After), else backoff."""

    reason: str
    after: float | None = None


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Any other status: posting again now will not help, but a later redelivery might (e.g. a bad URL)."""

    reason: str


type Decision = Accepted | Split | ReloadCredentials | Retry | GiveUp


def decide(status: int, body: bytes, retry_after: float | None, *, batches: int) -> Decision:
    """What the answer to a request of `batches` batches means; never raises, whatever the body.

    2xx is an acceptance, of every batch but those its `errors[]` refuse. Reasons are redacted
    (reasons.py): they name field paths and statuses, never a value.
    """
    if 200 <= status < 300:
        return _accepted(_error_messages(body) or [], batches)
    messages = _error_messages(body)
    detail = "non-JSON body" if messages is None else "; ".join(map(redact, messages))
    reason = clip(f"HTTP {status}: {detail}" if detail else f"HTTP {status}")
    if status in (400, 413):
        return Split(f"API refused: {reason}")
    if status in (401, 403):
        return ReloadCredentials(reason)
    if status in RETRYABLE_4XX or status >= 500:
        return Retry(reason, retry_after)
    return GiveUp(reason)


def _accepted(messages: list[str], batches: int) -> Accepted:
    refused: dict[int, str] = {}
    unplaced: list[str] = []
    for text in messages:
        message = unescape(text)
        match = _BATCH_INDEX.search(message)
        # The index only locates the batch in this request; the reason should read the same in every one.
        reason = "API refused: " + redact(_BATCH_INDEX.sub("Path '", message))
        if batches == 1:
            refused[0] = reason
        elif match and int(match.group(1)) < batches:
            refused.setdefault(int(match.group(1)), reason)
        else:
            unplaced.append(reason)
    return Accepted(refused, unplaced)


def _error_messages(body: bytes) -> list[str] | None:
    """The messages of an `{"errors": [...]}` body; [] when it has none, None when it is not JSON.

    Only an errors list refuses anything: any other body of a 2xx is an acceptance.
    """
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return None
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    if not isinstance(errors, list):
        return []
    return [_text(e.get("message") or e.get("code") if isinstance(e, dict) else e) for e in errors]


def _text(value: object) -> str:
    """An error entry's text; any other value is just "error" (str() of a nested one may recurse too deep)."""
    return value if isinstance(value, str) and value else "error"


def backoff(attempt: int, rng: random.Random, *, base: float = 0.25, cap: float = 8.0) -> float:
    """Exponential backoff with full jitter (AWS Architecture Blog), attempt counted from 0."""
    return rng.uniform(0, min(cap, base * 2 ** min(attempt, 32)))
