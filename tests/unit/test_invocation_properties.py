"""Properties of the whole invocation, for random bodies, envelopes, API answers and deadlines.

Whatever arrives: the handler never raises, every record gets exactly one outcome, nothing runs past
the deadline, no personal data it was given appears in a log line or a dead-letter reason, and with
HASH_PII no email address reaches the API raw.
"""

import json
import logging
from typing import Any

import pytest
from fakes import QUEUE, Edges, FakeApi, FakeClock, record
from hypothesis import HealthCheck, given, settings
from hypothesis import event as seen
from hypothesis import strategies as st

from rokt_forwarder.batch import prepare
from rokt_forwarder.errors import TransportError
from rokt_forwarder.ports import Response

# Personal data is drawn from these shapes, so a leak is easy to find: nothing else contains "qz".
names = st.text("bcdfghjkmnprstvwxyz", min_size=4, max_size=8).map(lambda s: f"Qz{s}")
emails = names.map(lambda name: f"{name.lower()}@example.com")
phones = st.integers(1000, 9999).map(lambda n: f"+1 (212) 555-{n}")
secrets = st.one_of(names, emails, phones)


@st.composite
def conversions(draw: st.DrawFn, broken: bool) -> tuple[dict[str, Any], list[str]]:
    """A flat conversion, valid unless `broken` (then maybe invalid), and the personal values it holds."""
    pii: list[str] = []
    maybe = st.booleans() if broken else st.just(False)

    def personal(strategy: st.SearchStrategy[str]) -> str:
        value = draw(strategy)
        pii.append(value)
        return value

    message: dict[str, Any] = {}
    if draw(st.booleans()):
        message["email"] = personal(st.one_of(emails, names) if broken else emails)  # a name: invalid
    if draw(st.booleans()) or not (broken or "email" in message):  # a valid one needs an identity
        message["customerid"] = draw(st.text("abc123", min_size=1, max_size=6))
    for field in draw(st.lists(st.sampled_from(["firstname", "lastname", "mobile"]), unique=True)):
        message[field] = personal(names if field != "mobile" else phones)
    amounts = st.one_of(st.decimals(allow_nan=False, places=2, min_value=0, max_value=10**6), st.integers(0))
    message["amount"] = draw(st.one_of(amounts, st.just("x")) if broken else amounts)
    message["currency"] = draw(st.sampled_from(["USD", "EUR", "US$", "usd"] if broken else ["USD", "EUR"]))
    if draw(maybe):
        message[personal(emails)] = 1  # an unknown key that is itself personal data
    if draw(st.booleans()):
        message["custom_attributes"] = {"contact": personal(emails), "note": personal(names)}
    if draw(st.booleans()):
        message["user_attributes"] = {"Phone": personal(phones), "$Address": personal(names)}
    return message, pii


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A record body: a conversion or full batch, maybe in an SNS or EventBridge envelope, or junk.

    Half of them are valid, so that the API's answers (and the reasons they quote) are met often.
    """
    broken = draw(st.booleans())
    message, pii = draw(conversions(broken))
    if draw(st.booleans()):
        identities = {key: message.pop(key) for key in ("email", "customerid") if key in message}
        first_name = draw(names)
        pii.append(first_name)
        users = {"$FirstName": first_name, **message.pop("user_attributes", {})}
        custom = {**message, **message.pop("custom_attributes", {})}  # flat: a batch nests no further
        message = {
            "user_identities": identities,
            "user_attributes": users,
            "events": [
                {
                    "event_type": "custom_event",
                    "data": {"event_name": "conversion", "custom_attributes": custom},
                }
            ],
        }
    envelope = draw(st.sampled_from(["none", "sns", "eventbridge", *(["junk"] if broken else [])]))
    text = json.dumps(message, default=str)
    if envelope == "sns":
        text = json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:x", "Message": text})
    elif envelope == "eventbridge":
        text = json.dumps({"detail-type": "Conversion", "source": "shop", "detail": message}, default=str)
    elif envelope == "junk":
        text = text[: draw(st.integers(0, len(text)))]
    return text, pii


@st.composite
def answers(draw: st.DrawFn) -> tuple[Response | TransportError, str]:
    """An Event API answer, and the personal data its error text quotes (as the real API may)."""
    status = draw(st.sampled_from([202] * 6 + [400, 401, 403, 404, 429, 500, 503]))
    value = draw(secrets)
    message = draw(
        st.sampled_from(
            [
                f"Error converting value \"{value}\" to type 'System.Guid'. Path '[0].x', line 1.",
                f"Invalid value {value}. Path '[1].user_attributes.x'",
                f"{value} is not allowed",
            ]
        )
    )
    if draw(st.integers(0, 3)) == 0:
        return TransportError("ConnectionResetError"), value
    body = json.dumps({"errors": [{"code": "BAD_REQUEST", "message": message}]}).encode()
    retry_after = draw(st.one_of(st.none(), st.floats(0, 120)))
    return Response(status, body if draw(st.booleans()) else b"", retry_after), value


def source_request_id(body: str, hash_pii: bool) -> str:
    """The id of the batch the forwarder makes of this body (fakes.Edges's settings and clock)."""
    sent = prepare(body, environment="development", hash_pii=hash_pii, now_ms=1_767_225_600_000)
    return str(json.loads(sent)["source_request_id"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(bodies(), min_size=1, max_size=12),
    replies=st.lists(answers(), min_size=1, max_size=6),
    remaining_ms=st.integers(500, 30_000),
    cost=st.floats(0.001, 5.0),
    dlq_fails=st.booleans(),
    hash_pii=st.booleans(),
)
def test_every_record_gets_one_outcome_in_time_and_no_pii_escapes(
    caplog: pytest.LogCaptureFixture,
    records: list[tuple[str, list[str]]],
    replies: list[tuple[Response | TransportError, str]],
    remaining_ms: int,
    cost: float,
    dlq_fails: bool,
    hash_pii: bool,
) -> None:
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    api = FakeApi([answer for answer, _ in replies], clock=clock, cost=cost)
    edges = Edges(api, dlq_fails=dlq_fails, hash_pii=hash_pii)
    event = [record(body, queue=QUEUE, mid=f"m{n}") for n, (body, _) in enumerate(records)]

    failed = edges(event, remaining_ms=remaining_ms)

    ids = {r["messageId"] for r in event}
    letters = [letter.message_id for letter in edges.letters]
    assert set(failed) <= ids and len(failed) == len(set(failed))
    assert len(letters) == len(set(letters)), "dead-lettered once"
    assert not set(letters) & set(failed), "a dead-lettered record is not also retried"
    delivered = [r for r in event if r["messageId"] not in set(failed) | set(letters)]
    sent = {batch["source_request_id"] for _, batches in api.calls for batch in batches}
    assert {source_request_id(r["body"], hash_pii) for r in delivered} <= sent, (
        "a record counted delivered was posted"
    )
    assert clock.now <= remaining_ms / 1000, "nothing ran past the deadline"
    logged = json.dumps([r.__dict__ for r in caplog.records], default=str)
    reasons = " ".join(letter.reason for letter in edges.letters)
    seen("posted" if api.calls else "nothing posted")
    seen("a record delivered" if delivered else "none delivered")
    seen("an API refusal dead-lettered" if "API refused" in reasons else "no API refusal dead-lettered")
    if hash_pii:
        posted = json.dumps(api.calls, default=str).lower()
        assert not [value for _, pii in records for value in pii if "@" in value and value in posted]
    quoted_by_api = [value for _, value in replies]
    for value in [value for _, pii in records for value in pii] + quoted_by_api:
        assert value not in logged and value not in reasons
        assert value.lower() not in logged.lower() and value.lower() not in reasons.lower()
