"""The real Lambda handler against moto in server mode and the Event API sandbox, over real HTTP."""

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from support import (
    API_KEY,
    API_SECRET,
    ROOT,
    dead_letters,
    invoke,
    lambda_handler,
    receive_event,
    request_id_of,
    send,
    send_and_invoke,
)

from devstack.embedded_aws import EmbeddedAws
from devstack.sandbox import Sandbox, SandboxConfig
from rokt_forwarder import pacing
from rokt_forwarder.errors import ConfigError

SLOW_FIRST_SEED = 4  # with this seed the sandbox's first answer is slow and a later one is not
VALID = {"email": "jane@example.com", "amount": 19.99, "currency": "USD", "firstname": "Jane"}


def received(sandbox: Sandbox) -> list[dict[str, Any]]:
    return sandbox.accepted_batches()


def test_conversions_are_delivered_exactly_as_mapped(aws: EmbeddedAws) -> None:
    bodies = [VALID, {**VALID, "email": "sam@example.com", "rtid": "click-1"}]
    invocation = send_and_invoke(aws, bodies)
    assert invocation.failed == set()
    batches = {b["source_request_id"]: b for b in received(invocation.sandbox)}
    assert set(batches) == {request_id_of(body) for body in bodies}
    first = batches[request_id_of(bodies[0])]
    assert first["user_identities"] == {"email": "jane@example.com"}
    assert first["events"][0]["data"]["custom_attributes"]["amount"] == Decimal("19.99")
    assert first["events"][0]["event_type"] == "custom_event"
    assert batches[request_id_of(bodies[1])]["integration_attributes"] == {
        "1277": {"passbackconversiontrackingid": "click-1"}
    }
    assert invocation.sandbox.stats()["by_status"] == {"202": 1}, "two records, one bulk request"
    assert dead_letters(aws) == {}


def test_mixed_sample_event_delivers_valid_and_dead_letters_invalid_with_reasons(aws: EmbeddedAws) -> None:
    sample = json.loads((ROOT / "events/sqs-mixed.json").read_text())
    invocation = send_and_invoke(aws, [r["body"] for r in sample["Records"]])
    assert invocation.failed == set()
    letters = dead_letters(aws)
    assert set(letters) == {invocation.ids[1], invocation.ids[2]}
    assert "user_identities" in letters[invocation.ids[1]]["reason"]
    assert letters[invocation.ids[2]]["reason"] == "emial: unknown field"
    assert letters[invocation.ids[2]]["body"] == sample["Records"][2]["body"], "the original body is kept"
    assert letters[invocation.ids[1]]["source_queue"] == aws.queue_arn
    valid = [sample["Records"][n]["body"] for n in (0, 3, 4)]
    assert {b["source_request_id"] for b in received(invocation.sandbox)} == set(map(request_id_of, valid))


def test_without_dlq_invalid_records_are_reported_failed(aws: EmbeddedAws) -> None:
    invocation = send_and_invoke(aws, [VALID, {"amount": 1}], env={"DLQ_URL": ""})
    assert invocation.failed == {invocation.ids[1]}
    assert dead_letters(aws) == {}


def test_batch_the_api_refuses_in_a_bulk_202_is_dead_lettered(aws: EmbeddedAws) -> None:
    refused = {
        "user_identities": {"email": "a@example.com"},
        "device_info": {"ios_advertising_id": "nope"},
        "events": [{"event_type": "custom_event", "data": {"event_name": "conversion"}}],
    }
    invocation = send_and_invoke(aws, [VALID, refused, {**VALID, "customerid": "c-3"}])
    assert invocation.failed == set()
    letters = dead_letters(aws)
    assert set(letters) == {invocation.ids[1]}
    assert "device_info.ios_advertising_id" in letters[invocation.ids[1]]["reason"]
    assert len(received(invocation.sandbox)) == 2


@pytest.mark.parametrize(
    "faults",
    [{"p429": 0.5}, {"p503": 0.5}, {"p500": 0.5}, {"p_reset": 0.5}],
    ids=["429-retry-after", "503", "500", "connection-reset"],
)
def test_transient_faults_are_retried_until_delivered(aws: EmbeddedAws, faults: dict[str, float]) -> None:
    bodies = [{**VALID, "customerid": str(n)} for n in range(12)]
    invocation = send_and_invoke(aws, bodies, env={"ROKT_REQUEST_TIMEOUT": "2"}, rate=0, **faults)
    assert invocation.failed == set()
    stats = invocation.sandbox.stats()
    assert sum(stats["faults"].values()) >= 1, "the seed must inject at least one fault"
    assert stats["unique_source_request_ids"] == 12
    assert dead_letters(aws) == {}


def test_rate_limit_429_is_honoured(aws: EmbeddedAws) -> None:
    # Without pacing (limit 0), the forwarder sends at once and meets the API's limit.
    bodies = [{**VALID, "customerid": str(n)} for n in range(150)]
    invocation = send_and_invoke(aws, bodies, rate=100, env={"ROKT_MAX_BATCHES_PER_SECOND": "0"})
    assert invocation.failed == set()
    stats = invocation.sandbox.stats()
    assert stats["by_status"].get("429", 0) >= 1
    assert stats["unique_source_request_ids"] == 150


def test_a_429_burst_is_absorbed_by_pacing_without_failures_or_dead_letters(
    aws: EmbeddedAws, caplog: pytest.LogCaptureFixture
) -> None:
    # The account's real limit (40/s) is far below the limit the stack was given (270/s, one container).
    bodies = [{**VALID, "customerid": str(n)} for n in range(150)]
    env = {"ROKT_MAX_BATCHES_PER_SECOND": "270", "ROKT_CONCURRENCY": "1"}
    invocation = send_and_invoke(aws, bodies, rate=40, env=env)
    stats = invocation.sandbox.stats()
    assert stats["by_status"].get("429", 0) >= 1, "the burst happened"
    assert invocation.failed == set()
    assert stats["unique_source_request_ids"] == 150
    assert dead_letters(aws) == {}
    (done,) = [r.__dict__ for r in caplog.records if r.getMessage() == "invocation done"]
    fair_share = 270 * pacing.HEADROOM
    assert done["pacing_rate"] < fair_share, "the 429 slowed the container's pace (without pacing: None)"


def test_slow_responses_time_out_and_the_retry_is_deduplicated(aws: EmbeddedAws) -> None:
    invocation = send_and_invoke(
        aws,
        [VALID, {**VALID, "customerid": "c-2"}],
        env={"ROKT_REQUEST_TIMEOUT": "0.5"},
        p_slow=0.5,
        slow_seconds=1.0,
        seed=SLOW_FIRST_SEED,
    )
    assert invocation.failed == set()
    stats = invocation.sandbox.stats()
    assert stats["faults"].get("slow", 0) >= 1
    assert stats["unique_source_request_ids"] == 2


def test_outage_longer_than_the_invocation_reports_all_failed_before_the_deadline(aws: EmbeddedAws) -> None:
    started = time.monotonic()
    invocation = send_and_invoke(aws, [VALID, VALID], timeout=4, outages=((0.0, 60.0),))
    assert invocation.failed == set(invocation.ids)
    assert time.monotonic() - started < 4 + 2, "never past the Lambda deadline"
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "2", "failed records wait their backoff"
    assert dead_letters(aws) == {}


def test_wrong_credentials_fail_records_and_never_dead_letter_them(aws: EmbeddedAws) -> None:
    invocation = send_and_invoke(aws, [VALID], api_key="other-key")
    assert invocation.failed == set(invocation.ids)
    assert invocation.sandbox.stats()["by_status"] == {"403": 2}, "one re-read of the secret, then stop"
    assert dead_letters(aws) == {}


def test_rotated_secret_is_read_again_after_a_403(aws: EmbeddedAws) -> None:
    send(aws, [VALID, VALID])
    rotated = {"api_key": "rotated-key", "api_secret": "rotated-secret"}
    with (
        Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET, seed=1)) as sandbox,
        lambda_handler({**aws.environment(), "ROKT_API_URL": sandbox.url}) as handler,
    ):
        assert invoke(handler, receive_event(aws, 1)) == set(), "the container now caches the old secret"
        aws.client("secretsmanager").put_secret_value(
            SecretId=aws.secret_arn, SecretString=json.dumps(rotated)
        )
        sandbox.rotate_credentials(**rotated)
        failures = invoke(handler, receive_event(aws, 1))
    assert failures == set()
    assert sandbox.stats()["by_status"] == {"202": 2, "403": 1}


def test_one_log_line_per_invocation_with_counts_and_no_pii(
    aws: EmbeddedAws, caplog: pytest.LogCaptureFixture
) -> None:
    send_and_invoke(aws, [VALID, {"email": "not-an-email", "firstname": "Secretname"}])
    summary = [r for r in caplog.records if r.getMessage() == "invocation done"]
    assert len(summary) == 1
    counts = summary[0].__dict__
    assert (counts["delivered"], counts["dead_lettered"], counts["failed"]) == (1, 1, 0)
    text = json.dumps([r.__dict__ for r in caplog.records], default=str)
    for pii in ("jane@example.com", "not-an-email", "Secretname", "Jane", API_SECRET):
        assert pii not in text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROKT_POD", "xx9"),
        ("ROKT_SECRET_ID", ""),
        ("ROKT_ENVIRONMENT", "staging"),
        ("HASH_PII", "maybe"),
        ("ROKT_API_URL", "ftp://example.com/v1"),
    ],
)
def test_bad_setting_fails_the_cold_start_naming_the_variable(
    aws: EmbeddedAws, variable: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=variable), lambda_handler({**aws.environment(), variable: value}):
        pass
