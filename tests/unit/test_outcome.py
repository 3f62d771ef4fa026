"""outcome: the SQS partial-batch response, the redelivery delay, and the log summary."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rokt_forwarder.outcome import (
    DELIVERED,
    MAX_RETRY_SECONDS,
    MAX_VISIBILITY_SECONDS,
    OUTCOMES,
    RETRY_BASE_SECONDS,
    RETRY_CAP_SECONDS,
    DeadLettered,
    Failed,
    Skipped,
    last_chance,
    response,
    retry_delay,
    summary,
)


def test_response_reports_only_failed_and_missing_records_in_order() -> None:
    ids = ["m1", "m2", "m3", "m4", "m5"]
    outcomes = {
        "m1": DELIVERED,
        "m2": Failed("HTTP 503"),
        "m3": DeadLettered("email: must be an email address"),
        # m4 has no outcome: it must come back, never be lost
        "m5": Failed("HTTP 429", 30.0),
    }
    assert response(ids, outcomes) == {
        "batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m4"}, {"itemIdentifier": "m5"}]
    }


def test_response_when_everything_is_done() -> None:
    assert response(["a", "b"], {"a": DELIVERED, "b": DeadLettered("x")}) == {"batchItemFailures": []}
    # A skipped record (not a conversion) is done too: SQS deletes it, it is never delivered again.
    assert response(["a"], {"a": Skipped("stripe: charge.refunded does not meet …")}) == {
        "batchItemFailures": []
    }
    assert response([], {}) == {"batchItemFailures": []}


def test_response_ignores_outcomes_of_unknown_records() -> None:
    assert response(["a"], {"a": DELIVERED, "zzz": Failed("x")}) == {"batchItemFailures": []}


def bounds(receive_count: int) -> tuple[int, int]:
    backoff = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(receive_count - 1, 0))
    return int(backoff / 2), backoff


@given(receive_count=st.integers(min_value=0, max_value=40), seed=st.integers())
def test_retry_delay_is_jittered_exponential_and_capped(receive_count: int, seed: int) -> None:
    delay = retry_delay(receive_count, None, random.Random(seed))
    low, high = bounds(receive_count)
    assert isinstance(delay, int)
    assert low <= delay <= high <= RETRY_CAP_SECONDS


@given(receive_count=st.integers(min_value=1, max_value=4), seed_a=st.integers(), seed_b=st.integers())
def test_retry_delay_grows_with_receive_count(receive_count: int, seed_a: int, seed_b: int) -> None:
    # Well below the cap the ranges [b/2, b] and [b, 2b] touch, so any draw for n+1 is >= any for n.
    assert retry_delay(receive_count + 1, None, random.Random(seed_a)) >= retry_delay(
        receive_count, None, random.Random(seed_b)
    )


def test_retry_delay_first_receive() -> None:
    first = range(RETRY_BASE_SECONDS // 2, RETRY_BASE_SECONDS + 1)
    delays = {retry_delay(1, None, random.Random(seed)) for seed in range(200)}
    assert delays <= set(first)
    assert retry_delay(0, None, random.Random(1)) in first


def test_retry_delay_caps_at_900_and_stays_spread_at_the_cap() -> None:
    assert RETRY_CAP_SECONDS == 900
    delays = [retry_delay(n, None, random.Random(n)) for n in range(10, 200)]
    assert max(delays) <= 900
    assert min(delays) >= 450
    assert len(set(delays)) > 50, "records that failed together do not all come back together"


@pytest.mark.parametrize(("retry_after", "expected"), [(60.0, 60), (120.5, 120), (7200.0, 7200)])
def test_retry_after_is_respected_when_longer_than_the_backoff(retry_after: float, expected: int) -> None:
    assert retry_delay(1, retry_after, random.Random(0)) == expected


@pytest.mark.parametrize("retry_after", [43201.0, 86400.0, 1e12])
def test_retry_after_is_capped_at_sqs_s_longest_visibility(retry_after: float) -> None:
    assert retry_delay(1, retry_after, random.Random(0)) == MAX_VISIBILITY_SECONDS == 12 * 3600


def test_the_last_receive_and_old_age_are_last_chances_and_nothing_else() -> None:
    assert last_chance(5, 5, 60.0, 30) == "not delivered in 5 receives"
    assert last_chance(6, 5, 60.0, 30) == "not delivered in 6 receives"
    assert last_chance(4, 5, 60.0, 30) is None
    assert last_chance(1000, None, None, 30) is None, "without the queue's maxReceiveCount, SQS decides"
    old = MAX_RETRY_SECONDS - 100
    assert last_chance(2, 200, old, 99) is None
    assert last_chance(2, 200, old, 101) == "not delivered in 3 days"


def test_the_default_schedule_outlives_a_day_before_the_last_receive() -> None:
    """The template's MaxReceiveCount with the shortest draw of every delay (docs/operations.md)."""
    receives = 200
    shortest = sum(min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (n - 1)) / 2 for n in range(1, receives))
    longest = sum(min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (n - 1)) for n in range(1, receives))
    assert shortest >= 24 * 3600
    assert longest + RETRY_CAP_SECONDS < MAX_RETRY_SECONDS, "the age limit never cuts the schedule short"


@given(receive_count=st.integers(min_value=1, max_value=20), seed=st.integers())
def test_short_retry_after_never_shortens_the_backoff(receive_count: int, seed: int) -> None:
    with_header = retry_delay(receive_count, 1.0, random.Random(seed))
    without = retry_delay(receive_count, None, random.Random(seed))
    assert with_header == max(without, 1)


def test_summary_counts_every_status_and_top_reasons() -> None:
    outcomes = [
        DELIVERED,
        DELIVERED,
        Failed("HTTP 503"),
        Failed("HTTP 503"),
        Failed("HTTP 429", 5.0),
        DeadLettered("email: must be an email address"),
        Skipped("shopify: orders/updated does not meet the mapping's convert"),
    ]
    assert summary(outcomes) == {
        "delivered": 2,
        "dead_lettered": 1,
        "failed": 3,
        "skipped": 1,
        "reasons": {
            "failed: HTTP 503": 2,
            "failed: HTTP 429": 1,
            "dead_lettered: email: must be an email address": 1,
            "skipped: shopify: orders/updated does not meet the mapping's convert": 1,
        },
    }


def test_summary_of_nothing_and_top_limit() -> None:
    assert summary([]) == {"delivered": 0, "dead_lettered": 0, "failed": 0, "skipped": 0, "reasons": {}}
    many = [Failed(f"reason {i}") for i in range(15)]
    result = summary(iter(many), top=3)
    assert result["failed"] == 15
    assert isinstance(result["reasons"], dict) and len(result["reasons"]) == 3


def test_the_log_names_each_outcome_as_before() -> None:
    assert [kind.status for kind in OUTCOMES] == ["delivered", "dead_lettered", "failed", "skipped"]
    assert DELIVERED.status == "delivered"
