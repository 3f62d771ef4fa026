"""The Event API's rules for one batch, as the forwarder checks them before sending.

The sandbox does not use them: it judges with mParticle's published schema (devstack/oracle.py), so
a wrong rule here shows up in the integration tests instead of passing them.

Each rule is a small function that returns what is wrong (or None), so the flat-message parser and
the batch checker name the same rule in the same words. Messages name the field and the rule and
never echo the value: values are PII. Every rule runs in time linear in its input (a producer may
send a megabyte of it): string methods, or patterns of bounded length that cannot backtrack.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rokt_forwarder import consent, limits, reasons

IDENTITY_KEYS = ("email", "other", "customerid", "other2")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule: where (a dotted path) and which rule; never the offending value."""

    path: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}" if self.path else self.rule


def is_email(text: str) -> bool:
    """One address and nothing else: `local@domain.tld`, one `@`, no whitespace.

    String methods, not the pattern it replaces: that one backtracked quadratically on `a@....@`
    (a 256 KiB body kept an invocation busy for minutes).
    """
    local, _, domain = text.partition("@")
    return bool(local) and "@" not in domain and "." in domain[1:-1] and text.split(maxsplit=1) == [text]


def email_rule(value: object) -> str | None:
    if not isinstance(value, str) or not is_email(value.strip()):
        return "must be an email address"
    return None


def sha256_rule(value: object) -> str | None:
    if not isinstance(value, str) or not _SHA256.fullmatch(value.strip().lower()):
        return "must be a SHA-256 hex digest (64 hex characters)"
    return None


def currency_rule(value: object) -> str | None:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        return "must be a 3-letter currency code"
    return None


def environment_rule(value: object) -> str | None:
    if not isinstance(value, str) or value not in limits.ENVIRONMENTS:
        return "must be development or production"
    return None


def timestamp_rule(value_ms: int, now_ms: int) -> str | None:
    if value_ms > now_ms + limits.MAX_CLOCK_SKEW_MS:
        return "must not be in the future"
    if value_ms < now_ms - limits.MAX_EVENT_AGE_MS:
        return "must not be older than 30 days"
    return None


_NAME_LENGTH = f"name must be 1 to {limits.MAX_NAME_LENGTH} characters"


def name_rule(name: str) -> str | None:
    if not name or len(name) > limits.MAX_NAME_LENGTH:
        return _NAME_LENGTH
    return None


def scalar_rule(value: object) -> str | None:
    if isinstance(value, bool | int | Decimal | float) or value is None:
        return None
    if isinstance(value, str):
        if len(value) > limits.MAX_VALUE_LENGTH:
            return f"value must be at most {limits.MAX_VALUE_LENGTH} characters"
        return None
    return "value must be a string, number, boolean or null"


def check_batch(batch: object, *, now_ms: int) -> list[Violation]:
    """Every rule of docs/event-api.md for one batch (its size is checked on the wire)."""
    return list(_batch_violations(batch, now_ms))


def _batch_violations(batch: object, now_ms: int) -> Iterator[Violation]:
    if not isinstance(batch, Mapping):
        yield Violation("", "batch must be a JSON object")
        return
    if "environment" in batch and (rule := environment_rule(batch["environment"])):
        yield Violation("environment", rule)
    if "source_request_id" in batch and not isinstance(batch["source_request_id"], str):
        yield Violation("source_request_id", "must be a string")
    yield from _identities(batch.get("user_identities"))
    yield from _attributes(
        "user_attributes", batch.get("user_attributes"), limits.MAX_USER_ATTRIBUTES, allow_lists=True
    )
    yield from (Violation(path, rule) for path, rule in consent.violations(batch.get("consent_state")))
    events = batch.get("events")
    if not isinstance(events, list) or not events:
        yield Violation("events", "must be a non-empty list")
        return
    for index, event in enumerate(events):
        yield from _event(f"events[{index}]", event, now_ms)


def _identities(identities: object) -> Iterator[Violation]:
    if identities is None:
        identities = {}
    if not isinstance(identities, Mapping):
        yield Violation("user_identities", "must be an object")
        return
    for key, value in identities.items():
        if value is not None and not isinstance(value, str):
            yield Violation(f"user_identities.{reasons.name(key)}", "must be a string")
    if "email" in identities and (rule := email_rule(identities["email"])):
        yield Violation("user_identities.email", rule)
    if "other" in identities and (rule := sha256_rule(identities["other"])):
        yield Violation("user_identities.other", rule)
    if not any(isinstance(identities.get(key), str) and identities[key] for key in IDENTITY_KEYS):
        yield Violation("user_identities", "needs at least one of email, other, customerid, other2 (rtid)")


def _attributes(path: str, attributes: object, max_count: int, *, allow_lists: bool) -> Iterator[Violation]:
    if attributes is None:
        return
    if not isinstance(attributes, Mapping):
        yield Violation(path, "must be an object")
        return
    if len(attributes) > max_count:
        yield Violation(path, f"must have at most {max_count} attributes")
    for name, value in attributes.items():
        if rule := name_rule(name):
            yield Violation(path, f"attribute {rule}")
            continue
        values: list[Any] = value if allow_lists and isinstance(value, list) else [value]
        for item in values:
            if rule := scalar_rule(item):
                yield Violation(f"{path}.{reasons.name(name)}", rule)
                break


def _event(path: str, event: object, now_ms: int) -> Iterator[Violation]:
    if not isinstance(event, Mapping):
        yield Violation(path, "must be an object")
        return
    if not isinstance(event.get("event_type"), str):
        yield Violation(f"{path}.event_type", "must be a string")
    data = event.get("data")
    if not isinstance(data, Mapping):
        yield Violation(f"{path}.data", "must be an object")
        return
    if event.get("event_type") == "custom_event":
        name = data.get("event_name")
        if not isinstance(name, str) or name_rule(name):
            yield Violation(f"{path}.data.event_name", f"event {_NAME_LENGTH}")
        if not isinstance(data.get("custom_event_type"), str):
            yield Violation(f"{path}.data.custom_event_type", "must be a string")
    timestamp = data.get("timestamp_unixtime_ms")
    if timestamp is not None:
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            yield Violation(f"{path}.data.timestamp_unixtime_ms", "must be an integer (epoch milliseconds)")
        elif rule := timestamp_rule(timestamp, now_ms):
            yield Violation(f"{path}.data.timestamp_unixtime_ms", rule)
    yield from _attributes(
        f"{path}.data.custom_attributes",
        data.get("custom_attributes"),
        limits.MAX_ATTRIBUTES_PER_EVENT,
        allow_lists=False,
    )
