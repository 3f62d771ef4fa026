"""Producers' events in a whole invocation: a conversion is sent, any other event is skipped, honestly.

Skipped means done: not sent, not dead-lettered, not reported failed (SQS deletes it), counted under
"skipped" in the invocation's log line with its reason, and it never closes a FIFO group.
"""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakes import FIFO_QUEUE, Edges, FakeApi, record
from literals import VALID

from rokt_forwarder.adapters import producers
from rokt_forwarder.config import ProducerSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "examples"


def shopify(topic: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EXAMPLES / "shopify-orders-create.json").read_text())
    event["detail"]["payload"]["created_at"] = "2025-12-31T23:50:00Z"
    event["detail"]["metadata"]["X-Shopify-Topic"] = topic
    return event


def with_presets(edges: Edges, **plan: Any) -> Edges:
    edges.forward.mappings = producers.presets()
    edges.forward.settings = replace(edges.forward.settings, producers=ProducerSettings(**plan))
    return edges


def done_line(caplog: pytest.LogCaptureFixture) -> Any:
    (line,) = [r for r in caplog.records if r.getMessage() == "invocation done"]
    return line


def test_a_conversion_is_sent_and_another_topic_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    edges = with_presets(Edges(FakeApi()))
    records = [
        record(shopify("orders/create"), mid="order"),
        record(shopify("orders/updated"), mid="update"),
        record(VALID, mid="flat"),
        record({"amount": 5}, mid="bad"),
    ]
    with caplog.at_level("INFO"):
        failed = edges(records)
    assert failed == []  # the skipped record is not reported: SQS deletes it
    sent = [batch["user_identities"].get("email") for _, batches in edges.api.calls for batch in batches]
    assert sorted(sent) == sorted([VALID["email"], "jon@example.com"]), "the flat one and the order"
    assert [letter.message_id for letter in edges.letters] == ["bad"]  # a skip is no dead letter
    line = done_line(caplog)
    assert (line.delivered, line.dead_lettered, line.failed, line.skipped) == (2, 1, 0, 1)
    assert line.reasons["skipped: shopify: orders/updated does not meet the mapping's convert"] == 1


def test_a_skipped_record_is_traced_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    skipped = {**record(shopify("orders/paid"), mid="paid"), "messageAttributes": {"forwarder_trace": {}}}
    with caplog.at_level("INFO"):
        assert with_presets(Edges(FakeApi()))([skipped]) == []
    assert done_line(caplog).traced == {
        "paid": "skipped: shopify: orders/paid does not meet the mapping's convert"
    }


def test_a_skipped_record_never_closes_its_fifo_group() -> None:
    edges = with_presets(Edges(FakeApi()))
    records = [
        record(shopify("orders/updated"), queue=FIFO_QUEUE, group="shop", mid="u"),
        record(shopify("orders/create"), queue=FIFO_QUEUE, group="shop", mid="c"),
    ]
    assert edges(records) == []
    assert len(edges.api.sent_ids()) == 1


def test_the_data_plan_is_named_on_every_batch() -> None:
    edges = with_presets(Edges(FakeApi()), data_plan_id="rokt_conversions", data_plan_version=2)
    full = {
        "user_identities": {"customerid": "c"},
        "events": [{"event_type": "custom_event", "data": {"event_name": "x"}}],
    }
    assert edges([record(VALID), record(shopify("orders/create")), record(full)]) == []
    plans = [batch["context"]["data_plan"] for _, batches in edges.api.calls for batch in batches]
    assert plans == [{"plan_id": "rokt_conversions", "plan_version": 2}] * 3


def test_without_presets_a_shopify_event_is_dead_lettered_as_before() -> None:
    edges = Edges(FakeApi())  # a Forwarder built without mappings: only flat messages and batches
    assert edges([record(shopify("orders/create"), mid="order")]) == []
    assert edges.letters[0].reason.startswith("payload: unknown field; metadata: unknown field")
