"""The real handler against hostile input and hostile answers: nothing stalls, nothing raw with HASH_PII.

AWS is moto in server mode; the Event API is the sandbox (which records what it accepted) or a local
server that answers as a test scripts it (tests/hostile.py).
"""

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hostile import Hostile, reply
from literals import VALID
from support import (
    API_KEY,
    API_SECRET,
    ROOT,
    Invoked,
    dead_letters,
    invoke_timed,
    lambda_handler,
    receive_event,
    send,
)

from devstack.embedded_aws import EmbeddedAws
from devstack.sandbox import Sandbox, SandboxConfig

# The email rule's old pattern backtracked quadratically on this (100,000 dots: about 30 s of CPU).
BACKTRACKING_EMAIL = "a@" + "." * 100_000 + "@"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api:
        yield api


def forward(aws: EmbeddedAws, api_url: str, bodies: list[Any], timeout: float = 30, **env: str) -> Invoked:
    """Send bodies through the queue and invoke a cold-started handler once on them."""
    ids = send(aws, bodies)
    with lambda_handler({**aws.environment(), "ROKT_API_URL": api_url, **env}) as handler:
        return invoke_timed(handler, receive_event(aws, len(ids)), timeout)


# --- no input stalls an invocation -----------------------------------------------------------------


def test_an_email_that_made_the_rule_backtrack_is_refused_in_time_and_its_neighbour_delivered(
    aws: EmbeddedAws,
) -> None:
    with sandbox() as api:
        result = forward(aws, api.url, [{**VALID, "email": BACKTRACKING_EMAIL}, VALID], timeout=10)
        accepted = api.accepted_batches()
    assert result.seconds_left > 0, "returned before Lambda's deadline"
    assert result.failed == set()
    assert [letter["reason"] for letter in dead_letters(aws).values()] == ["email: must be an email address"]
    assert [batch["user_identities"]["email"] for batch in accepted] == ["jane@example.com"]


def test_with_hash_pii_a_long_user_agent_is_hashed_and_delivered_in_time(aws: EmbeddedAws) -> None:
    conversion = {"customerid": "c-1", "user_agent": BACKTRACKING_EMAIL, "amount": 1, "currency": "USD"}
    with sandbox() as api:
        result = forward(aws, api.url, [conversion, VALID], timeout=10, HASH_PII="true")
        accepted = api.accepted_batches()
    assert result.seconds_left > 0
    assert result.failed == set()
    assert {
        batch["device_info"]["http_header_user_agent"] for batch in accepted if "device_info" in batch
    } == {sha(BACKTRACKING_EMAIL)}


def test_dlq_validate_judges_the_backtracking_line_without_hanging(tmp_path: Any) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"email": "a@" + "." * 256_000 + "@"}) + "\n" + json.dumps(VALID) + "\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "forwarder")])}
    # Generous: the old pattern took minutes on this line; linear code takes milliseconds.
    done = subprocess.run(
        [sys.executable, "-m", "ops.dlq", "validate", str(feed)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "line 1: email: must be an email address" in done.stdout.splitlines()
    assert "2 messages: 1 valid, 1 invalid" in done.stdout


def test_a_400_quoting_a_long_word_of_brackets_is_dead_lettered_in_time(aws: EmbeddedAws) -> None:
    message = ")" * 100_000 + "x"
    with Hostile([reply(400, {"errors": [{"code": "BAD_REQUEST", "message": message}]})]) as api:
        result = forward(aws, api.url + "/v2", [VALID], timeout=10)
    assert result.seconds_left > 0
    assert result.failed == set()
    (letter,) = dead_letters(aws).values()
    assert letter["reason"] == "API refused: HTTP 400: …"


def test_a_202_nested_past_the_json_parser_counts_as_delivered(aws: EmbeddedAws) -> None:
    with Hostile([reply(202, b"[" * 100_000)]) as api:
        result = forward(aws, api.url + "/v2", [VALID, VALID])
        requests = len(api.requests)
    assert result.failed == set(), "the API accepted them: not sent again"
    assert requests == 1
    assert dead_letters(aws) == {}


def test_a_quantity_of_thousands_of_digits_is_refused_in_our_words(aws: EmbeddedAws) -> None:
    with sandbox() as api:
        result = forward(aws, api.url, [{**VALID, "quantity": "9" * 5_000}])
    assert result.failed == set()
    (letter,) = dead_letters(aws).values()
    assert letter["reason"] == "quantity: must be a whole number of at most 4300 digits"


# --- HASH_PII: no contact data leaves raw -----------------------------------------------------------


def test_hash_pii_sends_no_contact_data_raw_in_free_text_or_any_spelling(aws: EmbeddedAws) -> None:
    conversions = [
        {**VALID, "custom_attributes": {"contact": "Qzjane Qzdoe <qz.jane.doe@example.com>"}},
        {**VALID, "custom_attributes": {"cc": "qz.ann@example.com,qz.bob@example.org"}},
        {**VALID, "user_agent": "Mozilla/5.0 (compatible; Qzbot/1.0; +mailto:qz.owner@example.com)"},
        {**VALID, "email": "qz.zero\u200bwidth@example.com"},
    ]
    full_batch = {
        "user_identities": {"customerid": "c-1"},
        "user_attributes": {
            "First.Name": "Qzfirst",
            "full_name": "Qzfirst Qzlast",
            "telephone": "+1 212 555 0199",
        },
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "conversion",
                    "custom_event_type": "transaction",
                    "custom_attributes": {"shipping_phone": "(212) 555-0142", "amount": 5},
                },
            }
        ],
    }
    with sandbox() as api:
        result = forward(aws, api.url, [*conversions, full_batch], HASH_PII="true")
        accepted = api.accepted_batches()
    assert result.failed == set()
    assert dead_letters(aws) == {}
    assert len(accepted) == 5
    sent = json.dumps(accepted, default=str)
    assert "@" not in sent and "qz" not in sent.lower()
    assert "2125550199" not in sent and "2125550142" not in sent and "555-0142" not in sent
    others = {batch["user_identities"].get("other") for batch in accepted}
    assert sha("qz.zerowidth@example.com") in others, "the zero-width space is not part of the hashed email"


def test_hash_pii_refuses_a_batch_nested_1500_deep_at_once_with_its_reason(aws: EmbeddedAws) -> None:
    nested: Any = "x"
    for _ in range(1_500):
        nested = {"k": nested}
    full_batch = {
        "user_identities": {"customerid": "c-1"},
        "events": [
            {"event_type": "custom_event", "data": {"event_name": "conversion", "custom_flags": nested}}
        ],
    }
    with sandbox() as api:
        result = forward(aws, api.url, [full_batch, VALID], HASH_PII="true")
        accepted = api.accepted_batches()
    assert result.failed == set(), "refused at once, never retried"
    assert [letter["reason"] for letter in dead_letters(aws).values()] == ["batch: nested too deeply"]
    assert len(accepted) == 1
