"""The published JSON Schema and the forwarder's parser agree on what a message is."""

import json

import jsonschema
import pytest
from literals import ROOT

from rokt_forwarder import message
from rokt_forwarder.adapters import producers
from rokt_forwarder.envelope import open_envelopes
from rokt_forwarder.errors import RefusedError, SkippedError

SCHEMA = json.loads((ROOT / "docs/message.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
PRESETS = producers.presets()
SAMPLES = [
    (path.name, record["messageId"], record["body"])
    for path in sorted((ROOT / "events").glob("sqs-*.json"))
    for record in json.loads(path.read_text())["Records"]
]


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_schema_lists_exactly_the_fields_the_parser_accepts() -> None:
    assert set(SCHEMA["$defs"]["conversion"]["properties"]) == set(message.FIELDS)


def forwarder_accepts(body: str) -> bool:
    """As the forwarder judges a message's shape: a preset's event that is not a conversion is fine."""
    try:
        opened = open_envelopes(body)
        payload = PRESETS.convert(opened.document)
        payload = opened.message if payload is None else payload
        message.parse_message(payload, now_ms=0)
    except SkippedError:
        return True
    except RefusedError as error:
        return "timestamp" in error.reason  # the time window is not the schema's business
    return "events" in payload or any(key in payload for key in ("email", "other", "customerid", "rtid"))


@pytest.mark.parametrize(
    ("sample", "message_id", "body"), SAMPLES, ids=[f"{s}:{m[:8]}" for s, m, _ in SAMPLES]
)
def test_samples_are_judged_alike_by_schema_and_forwarder(sample: str, message_id: str, body: str) -> None:
    assert VALIDATOR.is_valid(json.loads(body)) == forwarder_accepts(body)


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 1},
        {"email": "a@example.com", "emial": "typo"},
        {"other": "abc"},
        {"email": "a@example.com", "quantity": -1},
    ],
)
def test_schema_refuses_what_the_forwarder_refuses(body: dict) -> None:
    assert not VALIDATOR.is_valid(body)
    assert not forwarder_accepts(json.dumps(body))
