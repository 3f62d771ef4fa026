"""The real handler against a hostile network and hostile input: deadlines, bounded reads, privacy.

Each test's name says what it holds. The Event API is a misbehaving local HTTP server
(tests/hostile.py) or the sandbox; AWS is moto in server mode, or a silent server where AWS hangs.
"""

import json
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from hostile import Hostile, gzip_bomb, huge_body, reply, silence, trickle_body, trickle_headers
from literals import VALID
from support import (
    API_KEY,
    API_SECRET,
    ROOT,
    Invoked,
    dead_letters,
    invoke_timed,
    lambda_handler,
    log_lines,
    receive_event,
    send,
)

from devstack.embedded_aws import EmbeddedAws
from devstack.sandbox import Sandbox, SandboxConfig
from devstack.template import StackSettings
from rokt_forwarder.adapters.aws import client_config
from rokt_forwarder.ports import Handler

MiB = 2**20


@contextmanager
def handler_for(aws: EmbeddedAws, api_url: str, **env: str) -> Iterator[Handler]:
    with lambda_handler({**aws.environment(), "ROKT_API_URL": api_url, **env}) as handler:
        yield handler


def forward(aws: EmbeddedAws, api_url: str, bodies: list[Any], timeout: float = 30, **env: str) -> Invoked:
    """Send bodies through the queue and invoke a cold-started handler once on them."""
    ids = send(aws, bodies)
    with handler_for(aws, api_url, **env) as handler:
        return invoke_timed(handler, receive_event(aws, len(ids)), timeout)


# --- every HTTP phase ends by the deadline --------------------------------------------------------


def test_headers_trickled_forever_cannot_hold_the_invocation_past_its_deadline(aws: EmbeddedAws) -> None:
    with Hostile([trickle_headers(every=0.5)]) as api:
        result = forward(aws, api.url + "/v2", [VALID, VALID], timeout=6)
    assert len(result.failed) == 2
    assert result.seconds_left > 0, "returned before Lambda's deadline"


def test_a_body_trickled_slower_than_the_deadline_is_abandoned_in_time(aws: EmbeddedAws) -> None:
    with Hostile([trickle_body(every=2.0)]) as api:
        result = forward(aws, api.url + "/v2", [VALID], timeout=6)
    assert len(result.failed) == 1
    assert result.seconds_left > 0


# --- a half-read connection never goes back to the pool -----------------------------------------


def test_after_an_abandoned_answer_the_next_request_on_the_pool_succeeds(aws: EmbeddedAws) -> None:
    ids = send(aws, [VALID, VALID])
    with Hostile([trickle_body(every=2.0), reply(202)]) as api, handler_for(aws, api.url + "/v2") as handler:
        first = invoke_timed(handler, receive_event(aws, 1), timeout_seconds=6)
        second = invoke_timed(handler, receive_event(aws, 1), timeout_seconds=30)
    assert len(first.failed) == 1
    assert second.failed == set(), "the abandoned connection was not reused"
    assert set(ids) >= first.failed


# --- reading an answer is bounded --------------------------------------------------------------


def test_a_huge_answer_is_not_read_whole_and_its_202_still_counts(aws: EmbeddedAws) -> None:
    with Hostile([huge_body(400 * MiB)]) as api:
        result = forward(aws, api.url + "/v2", [VALID])
        sent = api.bytes_sent
    assert result.failed == set()
    assert sent < 32 * MiB, f"the client read {sent / MiB:.0f} MiB of a 400 MiB answer"


def test_a_compressed_answer_is_never_inflated(aws: EmbeddedAws) -> None:
    with Hostile([gzip_bomb(inflated=64 * MiB)]) as api:
        ids = send(aws, [VALID])
        with handler_for(aws, api.url + "/v2") as handler:
            event = receive_event(aws, len(ids))
            tracemalloc.start()
            try:
                result = invoke_timed(handler, event)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    assert result.failed == set(), "a garbled 202 is still an acceptance"
    assert peak < 16 * MiB


# --- the API's Retry-After reaches the send loop --------------------------------------------------


def test_retry_after_from_the_api_is_honoured(aws: EmbeddedAws) -> None:
    with Hostile([reply(429, {}, {"Retry-After": "3600"})]) as api:
        result = forward(aws, api.url + "/v2", [VALID])
        requests = len(api.requests)
    assert len(result.failed) == 1
    assert requests == 1, "an hour's Retry-After: nothing more is sent in this invocation"


# --- reasons never carry a value or a producer's key --------------------------------------


@pytest.mark.parametrize(
    ("message", "secrets"),
    [
        (
            "Error converting value \"Jane \"Janie\" Doe, 12 Elm St\" to type 'System.Guid'. Path 'x'.",
            ["Jane", "Janie", "Doe", "Elm"],
        ),
        ("Invalid value 'O'Brien' for lastname. Path 'user_attributes.lastname'", ["O'Brien", "Brien"]),
        ("Invalid zip 90210. Path 'user_attributes.billingzipcode'", ["90210"]),
    ],
    ids=["inner-quotes", "apostrophe", "short-number"],
)
def test_api_error_texts_reach_the_dlq_and_log_without_values(
    aws: EmbeddedAws, caplog: pytest.LogCaptureFixture, message: str, secrets: list[str]
) -> None:
    with Hostile([reply(400, {"errors": [{"code": "BAD_REQUEST", "message": message}]})]) as api:
        result = forward(aws, api.url + "/v2", [VALID])
    assert result.failed == set()
    (letter,) = dead_letters(aws).values()
    logged = "\n".join(log_lines(caplog))
    assert '"invocation done"' in logged
    assert letter["reason"].startswith("API refused: HTTP 400: ")
    for secret in secrets:
        assert secret not in letter["reason"]
        assert secret not in logged


def test_unknown_keys_that_are_not_identifiers_are_withheld(
    aws: EmbeddedAws, caplog: pytest.LogCaptureFixture
) -> None:
    full_batch = {
        "user_identities": {"customerid": "c", "zq.person@example.com": 7},
        "events": [{"event_type": "custom_event", "data": {"event_name": "conversion"}}],
    }
    with Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api:
        forward(aws, api.url, [{"email": "a@b.com", "zqxj@example.com": 1}, full_batch])
    reasons = sorted(letter["reason"] for letter in dead_letters(aws).values())
    assert reasons == ["user_identities.…: must be a string", "…: unknown field"]
    logged = "\n".join(log_lines(caplog))
    assert '"invocation done"' in logged
    assert "zqxj" not in logged and "zq.person" not in logged


# --- hashing never crashes on bad text ---------------------------------------------------------


def test_a_lone_surrogate_with_hash_pii_is_dead_lettered_with_its_reason(aws: EmbeddedAws) -> None:
    body = json.dumps({"customerid": "c", "firstname": "Ja\ud800ne"})
    with Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api:
        result = forward(aws, api.url, [body], HASH_PII="true")
    assert result.failed == set()
    (letter,) = dead_letters(aws).values()
    assert letter["reason"] == "text must be valid Unicode (it holds a lone surrogate)"


# --- the log line stays readable -----------------------------------------------------------------


def test_the_invocation_log_line_is_bounded_and_keeps_its_counts(
    aws: EmbeddedAws, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = [{"customerid": str(n), **{f"k{n}x{k}": 1 for k in range(9000)}} for n in range(10)]
    with Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api:
        forward(aws, api.url, bodies)
    (line,) = [line for line in log_lines(caplog) if '"invocation done"' in line]
    assert len(line.encode()) < 16 * 1024
    logged = json.loads(line)
    assert (logged["records"], logged["dead_lettered"], logged["failed"]) == (10, 10, 0)


# --- AWS calls are one attempt each, and never run past the deadline ----------------------


def test_one_sqs_call_is_one_attempt() -> None:
    with Hostile([silence]) as sqs:
        client = boto3.client(
            "sqs",
            endpoint_url=sqs.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=client_config(),
        )
        with pytest.raises(ReadTimeoutError):
            client.send_message(QueueUrl=f"{sqs.url}/123456789012/q", MessageBody="x")
        assert len(sqs.requests) == 1


def test_a_hung_sqs_endpoint_cannot_hold_the_invocation_past_its_deadline(aws: EmbeddedAws) -> None:
    invalid = [{"amount": n} for n in range(25)]
    with Hostile([silence]) as sqs:
        result = forward(aws, "http://127.0.0.1:9/v2", invalid, timeout=12, AWS_ENDPOINT_URL_SQS=sqs.url)
    assert len(result.failed) == 25, "not dead-lettered: reported failed, SQS delivers them again"
    assert result.seconds_left > 0


def test_a_hung_secret_re_read_after_403_cannot_hold_the_invocation_past_its_deadline(
    aws: EmbeddedAws,
) -> None:
    secret = {"ARN": aws.secret_arn, "Name": "rokt-event-api", "VersionId": "v1"}
    secret["SecretString"] = json.dumps({"api_key": "stale-key", "api_secret": "stale-secret"})
    with (
        Hostile([reply(200, secret), silence]) as secrets,
        Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api,
    ):
        result = forward(aws, api.url, [VALID], timeout=8, AWS_ENDPOINT_URL_SECRETS_MANAGER=secrets.url)
        reads = len(secrets.requests)
    assert len(result.failed) == 1
    assert result.seconds_left > 0
    assert reads == 2, "the cold-start read, then one re-read after the 403"


# --- dead letters as SQS counts and orders them ---------------------------------------


def test_a_body_near_the_size_limit_is_dead_lettered_whole(aws: EmbeddedAws) -> None:
    body = json.dumps({"amount": 1, "padding": "x" * (256 * 1024 - 100)})[: 256 * 1024 - 1]
    with Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api:
        result = forward(aws, api.url, [body])
    assert result.failed == set()
    (letter,) = dead_letters(aws).values()
    assert letter["body"] == body


def test_a_message_twice_in_one_event_is_posted_and_dead_lettered_once(aws: EmbeddedAws) -> None:
    ids = send(aws, [VALID, {"amount": 1}])
    event = receive_event(aws, 2)
    event["Records"] += [dict(record) for record in event["Records"]]
    with (
        Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api,
        handler_for(aws, api.url) as handler,
    ):
        result = invoke_timed(handler, event)
        accepted = api.stats()["requests"], len(api.accepted_batches())
    assert result.failed == set()
    assert accepted == (1, 1)
    assert list(dead_letters(aws)) == [ids[1]]


def test_dead_letters_to_a_fifo_dlq_keep_their_message_group() -> None:
    settings = replace(StackSettings.from_template(ROOT / "template.yaml"), fifo=True)
    with (
        EmbeddedAws(settings, API_KEY, API_SECRET) as aws,
        Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api,
    ):
        sqs = aws.client("sqs")
        for n, (group, body) in enumerate([("g1", {"amount": 1}), ("g1", {"amount": 2}), ("g2", VALID)]):
            sqs.send_message(
                QueueUrl=aws.queue_url,
                MessageBody=json.dumps(body),
                MessageGroupId=group,
                MessageDeduplicationId=f"d{n}",
            )
        with handler_for(aws, api.url) as handler:
            result = invoke_timed(handler, receive_event(aws, 3))
        letters = aws.drain_dlq()
    assert result.failed == set()
    # Two letters of one group both arrive: each carries its own deduplication id, in the group's order.
    assert [letter["Attributes"]["MessageGroupId"] for letter in letters] == ["g1", "g1"]
    assert [json.loads(letter["Body"])["amount"] for letter in letters] == [1, 2]
