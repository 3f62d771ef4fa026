"""The whole invocation with the API and SQS replaced at the edges: outcomes, DLQ, FIFO, response."""

import dataclasses
import json
import random
from typing import Any

import pytest
from fakes import FIFO_QUEUE, QUEUE, Edges, FakeApi, FakeClock, record
from hostile import refusing_port
from literals import VALID

import rokt_forwarder
from rokt_forwarder import invocation, outcome, pii
from rokt_forwarder.adapters.api import HttpTransport, new_pool
from rokt_forwarder.errors import CredentialsError, TransportError
from rokt_forwarder.outage import Outage
from rokt_forwarder.pacing import Pacer
from rokt_forwarder.ports import Credentials, Response


def test_all_delivered_returns_an_empty_failure_list() -> None:
    edges = Edges(FakeApi())
    assert edges([record(VALID), record(VALID)]) == []
    assert len(edges.api.calls) == 1
    assert edges.letters == [] and edges.delays == []


@pytest.mark.parametrize("hash_pii", [True, False])
def test_hash_pii_decides_whether_the_email_leaves_raw(hash_pii: bool) -> None:
    edges = Edges(FakeApi(), hash_pii=hash_pii)
    assert edges([record(VALID)]) == []
    ((_, (batch,)),) = edges.api.calls
    identities = batch["user_identities"]
    if hash_pii:
        assert identities == {"other": pii.hash_email("jane@example.com")}
        assert "jane@example.com" not in json.dumps(edges.api.calls, default=str)
    else:
        assert identities["email"] == "jane@example.com"


def test_invalid_records_go_to_the_dlq_with_reason_and_are_not_reported() -> None:
    bad = record({"amount": 5}, mid="bad")
    typo = record({**VALID, "emial": "x@example.com"}, mid="typo")
    edges = Edges(FakeApi())
    assert edges([record(VALID), bad, typo, record("not json", mid="junk")]) == []
    reasons = {letter.message_id: letter.reason for letter in edges.letters}
    assert set(reasons) == {"bad", "typo", "junk"}
    assert "user_identities" in reasons["bad"]
    assert reasons["typo"] == "emial: unknown field"
    assert "not valid JSON" in reasons["junk"]
    assert edges.letters[0].body == bad["body"], "the original body is dead-lettered"
    assert edges.letters[0].source_queue_arn == QUEUE
    assert len(edges.api.sent_ids()) == 1


def test_invalid_records_are_reported_failed_without_a_dlq() -> None:
    edges = Edges(FakeApi(), dlq=None)
    bad = record({"amount": 5}, mid="bad")
    assert edges([record(VALID), bad]) == ["bad"]


def test_invalid_records_are_reported_failed_when_the_dlq_send_fails() -> None:
    edges = Edges(FakeApi(), dlq_fails=True)
    assert edges([record({"amount": 5}, mid="bad")]) == ["bad"]


def test_batch_refused_by_the_api_is_dead_lettered() -> None:
    def reply(path: str, batches: list) -> Response:
        index = next(
            i for i, b in enumerate(batches) if b["user_identities"].get("customerid") == "refuse-me"
        )
        return Response(202, f'{{"errors":[{{"message":"bad. Path \'[{index}].x\'"}}]}}'.encode())

    edges = Edges(FakeApi([reply]))
    refused = record({"customerid": "refuse-me"}, mid="refused")
    assert edges([record(VALID), refused, record(VALID)]) == []
    assert [letter.message_id for letter in edges.letters] == ["refused"]
    assert edges.letters[0].reason == "API refused: bad. Path 'x'"


def test_transient_failures_are_reported_and_delayed_by_receive_count() -> None:
    clock = FakeClock()
    edges = Edges(FakeApi([Response(503)], clock=clock, cost=1.0))
    failures = edges(
        [record(VALID, mid="a", receives=1), record(VALID, mid="b", receives=4)], remaining_ms=10_000
    )
    assert failures == ["a", "b"]
    assert clock.now <= 10.0
    delays = {d.message_id: d.seconds for d in edges.delays}
    base = outcome.RETRY_BASE_SECONDS
    assert base / 2 <= delays["a"] <= base and 4 * base <= delays["b"] <= 8 * base
    assert {d.receipt_handle for d in edges.delays} == {"handle-a", "handle-b"}


def test_retry_after_longer_than_the_invocation_sets_the_redelivery_delay() -> None:
    edges = Edges(FakeApi([Response(429, retry_after=120)]))
    assert edges([record(VALID, mid="a")]) == ["a"]
    assert edges.delays[0].seconds == 120


def test_a_bug_while_preparing_one_record_fails_only_that_record() -> None:
    edges = Edges(FakeApi())
    assert edges([record(VALID), record(None, mid="broken")]) == ["broken"]
    assert len(edges.api.sent_ids()) == 1


def test_preparing_shares_the_deadline_and_fails_the_records_it_had_no_time_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each record takes a second to prepare; 10 s left, so sending stops at 8 s: so does preparing."""
    clock = FakeClock()
    edges = Edges(FakeApi(clock=clock))
    prepared: list[str] = []
    prepare = invocation.prepare

    def slow_prepare(body: str, **options: Any) -> bytes:
        clock.now += 1.0
        prepared.append(json.loads(body)["customerid"])
        return prepare(body, **options)

    monkeypatch.setattr(invocation, "prepare", slow_prepare)
    records = [record({**VALID, "customerid": f"m{n}"}, mid=f"m{n}") for n in range(20)]
    failed = edges(records, remaining_ms=10_000)
    assert clock.now <= 10.0, "preparing ran past the deadline"
    assert prepared == [f"m{n}" for n in range(8)]
    assert sorted(failed) == sorted(r["messageId"] for r in records), "each record failed, none lost"
    assert len(edges.delays) == 20


def test_fifo_group_stops_at_its_first_failure_and_later_records_are_not_sent() -> None:
    def reply(path: str, batches: list) -> Response:
        return (
            Response(503)
            if any(b["user_identities"]["customerid"] == "a2" for b in batches)
            else Response(202)
        )

    clock = FakeClock()
    edges = Edges(FakeApi([reply], clock=clock, cost=1.0))
    records = [
        record({"customerid": name}, queue=FIFO_QUEUE, group=name[0], mid=name)
        for name in ("a1", "b1", "a2", "b2", "a3", "b3", "c1")
    ]
    assert edges(records, remaining_ms=10_000) == ["a2", "b2", "a3", "b3"]
    sent = {b["user_identities"]["customerid"] for _, batches in edges.api.calls for b in batches}
    assert sent == {"a1", "b1", "a2", "b2", "c1"}, "a3 and b3 must not be sent after their group failed"


def test_fifo_invalid_record_without_dlq_blocks_the_rest_of_its_group() -> None:
    edges = Edges(FakeApi(), dlq=None)
    records = [
        record({"amount": 1}, queue=FIFO_QUEUE, group="g", mid="bad"),
        record(VALID, queue=FIFO_QUEUE, group="g", mid="next"),
        record(VALID, queue=FIFO_QUEUE, group="h", mid="other"),
    ]
    assert edges(records) == ["bad", "next"]
    assert len(edges.api.sent_ids()) == 1


def test_fifo_dead_lettered_record_lets_its_group_continue_in_order() -> None:
    edges = Edges(FakeApi())
    records = [
        record({"customerid": "1"}, queue=FIFO_QUEUE, group="g", mid="1"),
        record({"amount": 1}, queue=FIFO_QUEUE, group="g", mid="bad"),
        record({"customerid": "3"}, queue=FIFO_QUEUE, group="g", mid="3"),
    ]
    assert edges(records) == []
    assert [b["user_identities"]["customerid"] for _, bs in edges.api.calls for b in bs] == ["1", "3"]
    assert edges.letters[0].group_id == "g"


@pytest.mark.parametrize("status", [401, 403])
def test_credential_problems_never_dead_letter_valid_records(status: int) -> None:
    edges = Edges(FakeApi([Response(status)]))
    assert edges([record(VALID, mid="a"), record(VALID, mid="b")]) == ["a", "b"]
    assert edges.letters == []
    assert edges.api.credential_reloads == 1


def test_the_same_record_gets_the_same_request_id_on_redelivery_and_after_a_redrive() -> None:
    edges = Edges(FakeApi())
    edges([record(VALID, mid="m-1")])
    edges([record(VALID, mid="m-1", receives=2)])
    edges([record(VALID, mid="redriven-under-a-new-id")])
    first, second, redriven = edges.api.sent_ids()
    assert first == second == redriven


def test_failed_secret_reread_after_403_keeps_what_was_delivered() -> None:
    class Api(FakeApi):
        def load_credentials(self, refresh: bool, time_left: float) -> None:
            if refresh:
                raise CredentialsError("cannot read secret s: ThrottlingException")

    def reply(path: str, batches: list) -> Response:
        return Response(403) if batches[0]["user_identities"]["customerid"] == "2" else Response(202)

    edges = Edges(Api([reply]))
    records = [record({"customerid": n}, queue=FIFO_QUEUE, group="g", mid=n) for n in ("1", "2", "3")]
    assert edges(records) == ["2", "3"]


def test_an_unexpected_error_never_fails_records_already_delivered() -> None:
    def reply(path: str, batches: list) -> Response:
        if batches[0]["user_identities"]["customerid"] == "2":
            raise RuntimeError("bug")
        return Response(202)

    edges = Edges(FakeApi([reply]))
    records = [record({"customerid": n}, queue=FIFO_QUEUE, group=n, mid=n) for n in ("1",)]
    records += [record({"customerid": "2"}, queue=FIFO_QUEUE, group="1", mid="2")]
    assert edges(records) == ["2"]


def test_fifo_record_before_a_failed_dead_letter_is_still_delivered() -> None:
    edges = Edges(FakeApi(), dlq_fails=True)
    records = [
        record({"customerid": "1"}, queue=FIFO_QUEUE, group="g", mid="1"),
        record({"amount": 1}, queue=FIFO_QUEUE, group="g", mid="bad"),
        record({"customerid": "3"}, queue=FIFO_QUEUE, group="g", mid="3"),
    ]
    assert edges(records) == ["bad", "3"]
    assert edges.api.sent_ids() and len(edges.api.sent_ids()) == 1


def test_fifo_invalid_record_after_a_failure_is_not_dead_lettered_out_of_order() -> None:
    def reply(path: str, batches: list) -> Response:
        return Response(503)

    clock = FakeClock()
    edges = Edges(FakeApi([reply], clock=clock, cost=1.0))
    records = [
        record({"customerid": "1"}, queue=FIFO_QUEUE, group="g", mid="1"),
        record({"amount": 1}, queue=FIFO_QUEUE, group="g", mid="bad"),
    ]
    assert edges(records, remaining_ms=5_000) == ["1", "bad"]
    assert edges.letters == []


def test_each_record_has_exactly_one_outcome_when_a_fifo_group_breaks() -> None:
    edges = Edges(FakeApi())
    records = [
        record(None, queue=FIFO_QUEUE, group="g", mid="broken"),
        record({"amount": 1}, queue=FIFO_QUEUE, group="g", mid="bad"),
    ]
    assert edges(records) == ["broken", "bad"]
    assert edges.letters == [], "a record reported failed is not also dead-lettered"


def test_a_message_delivered_twice_in_one_event_is_settled_once() -> None:
    edges = Edges(FakeApi())
    valid = record(VALID, mid="twice")
    again = {**valid, "receiptHandle": "handle-latest"}
    bad = record({"amount": 5}, mid="bad")
    assert edges([valid, bad, again, {**bad, "receiptHandle": "handle-bad-2"}]) == []
    assert len(edges.api.sent_ids()) == 1, "posted once"
    assert [letter.message_id for letter in edges.letters] == ["bad"], "dead-lettered once"


def test_a_failed_duplicate_is_reported_once_and_delayed_with_its_latest_receipt_handle() -> None:
    edges = Edges(FakeApi([Response(503)], cost=1.0), dlq=None)
    first = record(VALID, mid="m")
    assert edges([first, {**first, "receiptHandle": "handle-latest"}], remaining_ms=6_000) == ["m"]
    assert [delay.receipt_handle for delay in edges.delays] == ["handle-latest"]


def traced(body: Any, mid: str) -> dict:
    return {**record(body, mid=mid), "messageAttributes": {"forwarder_trace": {"stringValue": "t"}}}


def done_line(caplog: pytest.LogCaptureFixture) -> Any:
    (line,) = [r for r in caplog.records if r.getMessage() == "invocation done"]
    return line


def test_traced_records_have_their_outcome_logged_by_message_id(caplog: pytest.LogCaptureFixture) -> None:
    records = [
        traced(VALID, "ok"),
        traced({**VALID, "email": "jane.at.example.com"}, "bad"),
        record(VALID, mid="untraced"),
    ]
    with caplog.at_level("INFO"):
        Edges(FakeApi())(records)
    assert done_line(caplog).traced == {
        "ok": "delivered",
        "bad": "dead_lettered: email: must be an email address",
    }


def test_a_traced_failure_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"):
        failed = Edges(FakeApi([Response(403)]))([traced(VALID, "refused")])
    assert failed == ["refused"]
    assert done_line(caplog).traced == {"refused": "failed: HTTP 403"}


def test_an_invocation_without_traced_records_logs_no_traced_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"):
        Edges(FakeApi())([record(VALID)])
    assert not hasattr(done_line(caplog), "traced")


def test_traced_outcomes_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"):
        Edges(FakeApi())([traced(VALID, f"m{n}") for n in range(25)])
    assert len(done_line(caplog).traced) == 10


def test_a_record_without_message_attributes_is_not_traced_and_does_not_break(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bare = record(VALID, mid="bare")
    del bare["messageAttributes"]
    with caplog.at_level("INFO"):
        assert Edges(FakeApi())([bare]) == []
    assert not hasattr(done_line(caplog), "traced")


def test_a_bug_in_one_request_never_fails_what_earlier_requests_delivered() -> None:
    calls = []

    def reply(path: str, batches: list) -> Response:
        calls.append(len(batches))
        if len(calls) == 2:
            raise RuntimeError("bug")
        return Response(202)

    edges = Edges(FakeApi([reply]))
    records = [record({"customerid": str(n)}, mid=f"m{n}") for n in range(150)]
    failed = edges(records)
    assert calls[0] == 100, "the first request carried a hundred batches"
    assert sorted(failed) == sorted(f"m{n}" for n in range(100, 150)), "only the second request's"


# --- the last chance -----------------------------------------------------------------------------------


def test_a_record_failing_on_its_last_receive_is_dead_lettered_with_the_reason() -> None:
    edges = Edges(FakeApi([Response(503)]), max_receives=5)
    failures = edges([record(VALID, mid="last", receives=5), record(VALID, mid="not-yet", receives=4)])
    assert failures == ["not-yet"]
    assert [letter.message_id for letter in edges.letters] == ["last"]
    assert edges.letters[0].reason.startswith("not delivered in 5 receives: HTTP 503")
    assert [delay.message_id for delay in edges.delays] == ["not-yet"]


def test_a_record_failing_past_the_retry_window_is_dead_lettered_before_it_could_expire() -> None:
    edges = Edges(FakeApi([Response(503)]), max_receives=200)
    old = record(VALID, mid="old", receives=50)
    old["attributes"]["SentTimestamp"] = str(1_767_225_600_000 - outcome.MAX_RETRY_SECONDS * 1000)
    assert edges([old]) == []
    assert edges.letters[0].reason.startswith("not delivered in 3 days: ")


def test_without_the_queue_s_receive_count_sqs_decides() -> None:
    edges = Edges(FakeApi([Response(503)]))
    assert edges([record(VALID, mid="a", receives=1000)]) == ["a"]
    assert edges.letters == []


def test_a_last_chance_letter_the_dlq_refuses_is_reported_failed() -> None:
    edges = Edges(FakeApi([Response(503)]), max_receives=2, dlq_fails=True)
    assert edges([record(VALID, mid="a", receives=2)]) == ["a"], "SQS moves it then; nothing is lost"


def test_a_fifo_record_blocked_on_its_last_receive_is_dead_lettered_too() -> None:
    def reply(path: str, batches: list) -> Response:
        return Response(503) if batches[0]["user_identities"]["customerid"] == "a1" else Response(202)

    edges = Edges(FakeApi([reply]), max_receives=3)
    first = record({**VALID, "customerid": "a1"}, queue=FIFO_QUEUE, group="g", mid="a1", receives=3)
    second = record({**VALID, "customerid": "a2"}, queue=FIFO_QUEUE, group="g", mid="a2", receives=3)
    assert edges([first, second]) == []
    assert {letter.message_id for letter in edges.letters} == {"a1", "a2"}


def test_while_the_api_is_down_an_invocation_costs_one_probe() -> None:
    clock = FakeClock()
    api = FakeApi([Response(503)], clock=clock, cost=0.05)
    edges = Edges(api)
    edges.forward.outage = Outage()
    records = [record(VALID) for _ in range(50)]
    assert len(edges(records)) == 50
    first = len(api.calls)
    assert len(edges([record(VALID) for _ in range(50)])) == 50
    assert len(api.calls) - first == 1
    assert clock.now < 2.0


@pytest.mark.parametrize(
    ("remaining_ms", "margin", "stop"),
    [(30_000, None, 25.0), (30_000, 3.0, 27.0), (10_000, None, 8.0)],
    ids=["5 s, as documented", "a shorter margin", "a fifth of a short invocation"],
)
def test_sending_stops_the_safety_margin_before_lambda_s_deadline(
    remaining_ms: int, margin: float | None, stop: float
) -> None:
    """The margin leaves time for the DLQ and visibility calls and the response; under a short
    deadline it shrinks to a fifth of the time, so some sending is still possible."""
    clock = FakeClock()
    ends: list[float] = []

    def unavailable(path: str, batches: list) -> Response:
        ends.append(clock.now)  # when the answer arrives: each request takes a quarter of a second
        return Response(503, retry_after=0.25)

    edges = Edges(FakeApi([unavailable], clock=clock, cost=0.25))
    if margin is not None:
        edges.forward.safety_margin = margin
    assert edges([record(VALID, mid="a")], remaining_ms=remaining_ms) == ["a"]
    assert max(ends) <= stop, "no request outlasts the margin"
    assert max(ends) >= stop - 0.5, "sending went on until a request and its wait no longer fit"
    assert clock.now <= stop, "nor does a wait"


def test_the_done_line_says_which_version_ran(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"):
        Edges(FakeApi())([record(VALID, mid="m")])
    assert done_line(caplog).version == rokt_forwarder.__version__


def test_a_long_retry_after_brings_the_records_back_after_it_not_five_receives_sooner() -> None:
    """Issue 15, item 6: a 429 with Retry-After 7200 held the pacing 2 h while each delay was capped
    at 15 min, so the record burnt a receive every 15 min without a request."""
    clock = FakeClock()
    api = FakeApi([Response(429, retry_after=7200.0)], clock=clock)
    edges = Edges(api)
    edges.forward.pacer = Pacer(270, 5, clock, random.Random(1))
    assert edges([record(VALID, mid="a")]) == ["a"]
    assert edges.delays[-1].seconds == 7200
    clock.now += 900  # SQS brought it back early anyway (a receive after a visibility change failed)
    requests = len(api.calls)
    assert edges([record(VALID, mid="a", receives=2)]) == ["a"]
    assert len(api.calls) == requests, "held: no request"
    assert edges.delays[-1].seconds == pytest.approx(7200 - 900, abs=1)


OUTAGE_WARNING = "Event API down: each invocation now sends one probe and fails the rest until it answers"


def test_a_connection_outage_names_the_host_never_the_key_or_secret(caplog: pytest.LogCaptureFixture) -> None:
    edges = Edges(FakeApi())
    edges.forward.outage = Outage()
    with refusing_port() as port, caplog.at_level("INFO"):
        url = f"http://127.0.0.1:{port}/v2"
        secret = Credentials("the-api-key-value", "the-api-secret-value")
        edges.forward.transport = HttpTransport(url, lambda refresh, time_left: secret, pool=new_pool())
        edges.forward.settings = dataclasses.replace(edges.forward.settings, api_url=url)
        assert edges([record(VALID, mid="a")]) == ["a"]
    host = f"127.0.0.1:{port}"
    (reason,) = done_line(caplog).reasons
    assert reason.endswith(f"not retried in this invocation: connection: NewConnectionError to {host}")
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert (warning.getMessage(), warning.host) == (OUTAGE_WARNING, host)
    logged = json.dumps([vars(r) for r in caplog.records], default=str)
    assert host in logged
    assert "the-api-key-value" not in logged and "the-api-secret-value" not in logged


def test_a_sustained_outage_is_logged_once_at_warning_and_again_only_for_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    up = {"now": False}

    def api(path: str, batches: list) -> Response:
        if not up["now"]:
            raise TransportError("NewConnectionError to s2s.us1.mparticle.com")
        return Response(202)

    edges = Edges(FakeApi([api]))
    edges.forward.outage = Outage()

    def warnings() -> list[Any]:
        return [r for r in caplog.records if r.levelname == "WARNING" and r.getMessage() == OUTAGE_WARNING]

    with caplog.at_level("INFO"):
        for _ in range(4):  # the outage opens in the first invocation; the next three only probe
            assert len(edges([record(VALID) for _ in range(5)])) == 5
        (first,) = warnings()
        assert first.reason == "connection: NewConnectionError to s2s.us1.mparticle.com"
        assert first.host == "api"  # the configured endpoint (tests' Settings: https://api/v2)
        up["now"] = True
        assert edges([record(VALID)]) == []  # the probe is answered: the outage is over
        up["now"] = False
        assert len(edges([record(VALID)])) == 1
    assert len(warnings()) == 2, "one warning per outage, not per invocation"
