"""`python -m ops.validate` (and `make dlq ARGS="validate FILE"`): message feeds checked offline."""

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devstack import platforms
from ops import dlq, validate

EMAIL = "email: must be an email address"


def test_validate_prints_each_invalid_line_with_the_forwarder_s_reason(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    sns = {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": '{"customerid": "c"}'}
    lines = [
        json.dumps({"email": "jane@example.com", "amount": 19.99, "currency": "USD"}),
        json.dumps({"email": "jane.doe@", "amount": 1}),
        "",
        "not json",
        json.dumps(sns),
        json.dumps({"emial": "x@example.com"}),
    ]
    feed.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    assert validate.main([str(feed)], out=out) == 1
    assert out.getvalue().splitlines() == [
        f"line 2: {EMAIL}",
        "line 4: body: not valid JSON",
        "line 6: emial: unknown field",
        "By reason:",
        "      1  body: not valid JSON",
        f"      1  {EMAIL}",
        "      1  emial: unknown field",
        "5 messages: 2 valid, 3 invalid",
    ]
    assert "jane.doe@" not in out.getvalue()


def test_the_summary_counts_each_reason_most_first(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    bad_email = json.dumps({"email": "jane.doe@", "amount": 1})
    feed.write_text("\n".join([bad_email, "not json", bad_email, bad_email]) + "\n")
    out = io.StringIO()
    assert validate.main([str(feed)], out=out) == 1
    assert out.getvalue().splitlines()[-4:] == [
        "By reason:",
        f"      3  {EMAIL}",
        "      1  body: not valid JSON",
        "4 messages: 0 valid, 4 invalid",
    ]


def test_make_dlq_validate_is_the_same_command(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"email": "jane.doe@", "amount": 1}) + "\n")
    by_dlq, by_validate = io.StringIO(), io.StringIO()
    assert dlq.main(["validate", str(feed)], out=by_dlq) == 1
    assert validate.main([str(feed)], out=by_validate) == 1
    assert by_dlq.getvalue() == by_validate.getvalue()


def test_validate_a_clean_feed_exits_zero(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"customerid": "c-1", "amount": "5.00", "currency": "EUR"}) + "\n")
    out = io.StringIO()
    assert validate.main([str(feed)], out=out) == 0
    assert out.getvalue() == "1 messages: 1 valid, 0 invalid\n"


def test_validate_of_a_file_it_cannot_read_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert validate.main([str(tmp_path / "missing.jsonl")]) == 2
    assert capsys.readouterr().err.startswith(f"ERROR: cannot read {tmp_path / 'missing.jsonl'}: ")


def test_validate_judges_shopify_and_stripe_events_by_their_presets(tmp_path: Path) -> None:
    now = datetime.now(UTC) - timedelta(minutes=1)
    lines = [
        platforms.shopify_order_event(now),
        platforms.shopify_order_event(now, topic="orders/updated"),
        platforms.stripe_event(now),
        platforms.shopify_order_event(now, order={"email": "jon.at.example.com"}),
    ]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = io.StringIO()
    assert validate.main([str(feed)], out=out) == 1
    assert out.getvalue().splitlines() == [
        "line 2: skipped: shopify: orders/updated does not meet the mapping's convert",
        f"line 4: {EMAIL}",
        "By reason:",
        f"      1  {EMAIL}",
        "      1  skipped: shopify: orders/updated does not meet the mapping's convert",
        "4 messages: 2 valid, 1 invalid, 1 skipped (not conversions)",
    ]


def test_validate_with_the_users_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps({"name": "mine", "match": "order != null", "fields": {"email": "order.buyer"}})
    )
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"order": {"buyer": "jane@example.com"}}) + "\n")
    out = io.StringIO()
    assert validate.main([str(feed), "--mapping", str(mapping)], out=out) == 0
    assert out.getvalue() == "1 messages: 1 valid, 0 invalid\n"
    assert validate.main([str(feed)], out=io.StringIO()) == 1  # without it: "order: unknown field"

    mapping.write_text(
        json.dumps({"name": "mine", "match": "order != null", "fields": {"e-mail": "order.buyer"}})
    )
    assert validate.main([str(feed), "--mapping", str(mapping)]) == 2
    assert capsys.readouterr().err.startswith(
        f"ERROR: ROKT_MAPPING_FILE={mapping}: fields.e-mail: not a field"
    )
