"""The sandbox's judge of a batch: mParticle's published JSON schema and the documented limits.

Independent of the forwarder on purpose: it never imports rokt_forwarder.rules or limits, so a wrong
rule in the forwarder shows up as a batch the sandbox refuses (or one the forwarder refuses that this
judge would accept) instead of passing every integration test. The schema is
devstack/schema/events-api-batch.schema.json, written from mParticle's JSON Schema Reference (its
`$comment` names the sources and says where it differs from the published schema); the limits are
below, each with its public source.

A refusal names the field path and the rule, never the value, and a producer's key only if it is a
plain identifier: the forwarder's tests assert that no personal data comes back to it.
"""

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsonschema

SCHEMA_PATH: Final = Path(__file__).parent / "schema" / "events-api-batch.schema.json"
SCHEMA: Final[dict[str, Any]] = json.loads(SCHEMA_PATH.read_text())

# The documented limits. [R] Rokt, Event API Integration Guide, "Limits":
# https://docs.rokt.com/developers/integration-guides/getting-started/advertisers/ads-api-integration
# [L] mParticle, Default Service Limits: https://docs.mparticle.com/guides/default-service-limits/
# [M] mParticle, Events API: https://docs.mparticle.com/developers/apis/http/
MAX_REQUEST_BYTES: Final = 256 * 1024  # total request size, both endpoints [R][M]
MAX_BATCH_BYTES: Final = 128 * 1024  # one batch [L]
MAX_BATCHES_PER_REQUEST: Final = 100  # batches in one /bulkevents request [M]
MAX_NAME_CHARS: Final = 256  # event name, event and user attribute names [R][L]
MAX_VALUE_CHARS: Final = 4096  # event and user attribute values [R][L]
MAX_USER_ATTRIBUTES: Final = 100  # user attributes per batch [R][L]
MAX_EVENT_ATTRIBUTES: Final = 100  # attributes per event [L]
MAX_EVENT_AGE_MS: Final = 30 * 24 * 3600 * 1000  # /events and /bulkevents take the last 30 days [M]

GUID_RULE: Final = "must be a GUID"
# The schema picks an event's schema by its event_type (if/then, one branch per type). Trying all
# seventeen branches on every event costs ~0.2 ms an event, so the batch is validated without them
# and each event then against its own type's branch: the same rules, one branch an event.
_BRANCHES: Final = {
    branch["if"]["properties"]["event_type"]["const"]: branch["then"]
    for branch in SCHEMA["definitions"]["Event"]["allOf"]
}
_BATCH_SCHEMA: Final = {
    **SCHEMA,
    "definitions": {
        **SCHEMA["definitions"],
        "Event": {k: v for k, v in SCHEMA["definitions"]["Event"].items() if k != "allOf"},
    },
}
_FORMATS: Final = jsonschema.FormatChecker(["ipv4", "ipv6"])
_VALIDATOR: Final = jsonschema.Draft7Validator(_BATCH_SCHEMA, format_checker=_FORMATS)
_EVENT_VALIDATORS: Final = {kind: _VALIDATOR.evolve(schema=then) for kind, then in _BRANCHES.items()}
_TYPES: Final = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
    "object": "an object",
    "array": "a list",
}


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule: where (a dotted path, "" for the whole batch) and which rule; never the value."""

    path: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}" if self.path else self.rule


def violations(batch: object, raw: str, *, now_ms: int) -> list[Violation]:
    """Every rule `batch` breaks (`raw`: its text as sent, for its size), each once, in a stable order."""
    found = list(_size(raw)) + list(_schema(batch)) + list(_limits(batch, now_ms))
    return list(dict.fromkeys(found))


def _size(raw: str) -> Iterator[Violation]:
    if len(raw.encode()) > MAX_BATCH_BYTES:
        yield Violation("", f"batch must be at most {MAX_BATCH_BYTES} bytes")


def _schema(batch: object) -> Iterator[Violation]:
    located: list[tuple[tuple[str | int, ...], jsonschema.ValidationError]]
    located = [((), error) for error in _VALIDATOR.iter_errors(batch)]
    events = batch.get("events") if isinstance(batch, Mapping) else None
    for index, event in enumerate(events if isinstance(events, list) else []):
        kind = event.get("event_type") if isinstance(event, Mapping) else None
        if isinstance(kind, str) and kind in _EVENT_VALIDATORS:
            located += [(("events", index), error) for error in _EVENT_VALIDATORS[kind].iter_errors(event)]
    for where, error in sorted(
        located, key=lambda pair: [str(p) for p in (*pair[0], *pair[1].absolute_path)]
    ):
        path = _path([*where, *error.absolute_path])
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            yield from (Violation(_join(path, name), "is required") for name in missing)
        elif error.validator == "additionalProperties":
            known = error.schema.get("properties", {})
            for name in (key for key in error.instance if key not in known):
                yield Violation(path, f"has no property {_key(name)}")
        else:
            yield Violation(path, _rule(error))


def _rule(error: jsonschema.ValidationError) -> str:
    """The schema's own words (x-rule) where it has them, else the keyword's, never the value."""
    if isinstance(error.schema, Mapping) and "x-rule" in error.schema:
        return str(error.schema["x-rule"])
    if error.validator == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        words = [_TYPES.get(str(kind), str(kind)) for kind in types]
        return "must be " + (", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0])
    if error.validator == "enum":
        return "must be one of " + ", ".join(map(str, error.validator_value))
    return f"breaks the schema's {error.validator} rule"


def _limits(batch: object, now_ms: int) -> Iterator[Violation]:
    if not isinstance(batch, Mapping):
        return
    yield from _attributes("user_attributes", batch.get("user_attributes"), MAX_USER_ATTRIBUTES)
    events = batch.get("events")
    for index, event in enumerate(events if isinstance(events, list) else []):
        data = event.get("data") if isinstance(event, Mapping) else None
        if not isinstance(data, Mapping):
            continue
        path = f"events[{index}].data"
        name = data.get("event_name")
        if isinstance(name, str) and len(name) > MAX_NAME_CHARS:
            yield Violation(f"{path}.event_name", f"must be at most {MAX_NAME_CHARS} characters")
        timestamp = data.get("timestamp_unixtime_ms")
        if isinstance(timestamp, int) and timestamp < now_ms - MAX_EVENT_AGE_MS:
            yield Violation(f"{path}.timestamp_unixtime_ms", "must be within the last 30 days")
        yield from _attributes(
            f"{path}.custom_attributes", data.get("custom_attributes"), MAX_EVENT_ATTRIBUTES
        )


def _attributes(path: str, attributes: object, max_count: int) -> Iterator[Violation]:
    if not isinstance(attributes, Mapping):
        return
    if len(attributes) > max_count:
        yield Violation(path, f"must have at most {max_count} attributes")
    for name, value in attributes.items():
        if len(name) > MAX_NAME_CHARS:
            yield Violation(path, f"an attribute name must be at most {MAX_NAME_CHARS} characters")
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and len(item) > MAX_VALUE_CHARS for item in items):
            yield Violation(_join(path, name), f"value must be at most {MAX_VALUE_CHARS} characters")


def _path(parts: Iterable[str | int]) -> str:
    path = ""
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _join(path: str, key: object) -> str:
    return f"{path}.{_key(key)}" if path else _key(key)


def _key(key: object) -> str:
    """A producer's key as a refusal may show it: itself if a plain identifier, else "…"."""
    if (
        isinstance(key, str)
        and 0 < len(key) <= 64
        and key.isascii()
        and all(c.isalnum() or c in "_$-" for c in key)
    ):
        return key
    return "…"
