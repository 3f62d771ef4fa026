"""The send loop against a scripted API and a fake clock: every status of docs/event-api.md."""

import random
from dataclasses import dataclass
from decimal import Decimal

import pytest
from fakes import FakeApi, FakeClock

from rokt_forwarder import limits, wire
from rokt_forwarder.adapters.api import parse_retry_after
from rokt_forwarder.delivery import API_DOWN, DEADLINE_REACHED, NO_SHARE, Delivery
from rokt_forwarder.errors import CredentialsError, DeadlineError, TransportError
from rokt_forwarder.outage import FAILURES_TO_OPEN, PROBE_SECONDS, Outage
from rokt_forwarder.outcome import DELIVERED, Failed, Refused, Result
from rokt_forwarder.pacing import Pacer
from rokt_forwarder.ports import DeliveryStats, Response


def batch(n: int, pad: int = 0) -> bytes:
    return wire.dumps(
        {
            "source_request_id": f"id-{n}",
            "user_identities": {"customerid": f"c{n}"},
            "events": [{"event_type": "custom_event", "data": {"event_name": "conversion", "x": "y" * pad}}],
        }
    )


@dataclass(frozen=True)
class Sent:
    """What one `Delivery.deliver` call returned, and the stats it kept."""

    results: list[Result]
    stats: DeliveryStats


def deliver(
    api: FakeApi,
    batches: list[bytes],
    *,
    clock: FakeClock | None = None,
    deadline: float = 25.0,
    pacer: Pacer | None = None,
    outage: Outage | None = None,
) -> Sent:
    """Deliver `batches` to the scripted `api` with a 10 s request timeout and a seeded backoff."""
    clock = clock or api.clock or FakeClock()
    delivery = Delivery(
        api,
        clock=clock,
        deadline=deadline,
        request_timeout=10.0,
        rng=random.Random(7),
        pacer=pacer,
        outage=outage,
    )
    return Sent(delivery.deliver(batches), delivery.stats)


def test_all_accepted_in_one_bulk_request() -> None:
    api = FakeApi()
    sent = deliver(api, [batch(i) for i in range(3)])
    results = sent.results
    assert results == [DELIVERED] * 3
    assert [path for path, _ in api.calls] == ["/bulkevents"]
    assert api.sent_ids() == ["id-0", "id-1", "id-2"]
    assert sent.stats.requests == 1


def test_single_batch_uses_events_endpoint() -> None:
    api = FakeApi()
    results = deliver(api, [batch(0)]).results
    assert results == [DELIVERED]
    assert api.calls[0][0] == "/events"


def test_many_batches_are_split_by_count_and_each_sent_once() -> None:
    api = FakeApi()
    results = deliver(api, [batch(i) for i in range(250)]).results
    assert results == [DELIVERED] * 250
    assert [len(b) for _, b in api.calls] == [100, 100, 50]
    assert sorted(api.sent_ids()) == sorted(f"id-{i}" for i in range(250))


def test_requests_stay_under_the_byte_limit() -> None:
    api = FakeApi()
    batches = [batch(i, pad=60_000) for i in range(9)]
    results = deliver(api, batches).results
    assert results == [DELIVERED] * 9
    assert all(
        wire.bulk_size(sum(len(wire.dumps(b)) for b in bs), len(bs)) <= limits.MAX_REQUEST_BYTES
        for _, bs in api.calls
    )
    assert len(api.calls) >= 3


def test_202_with_indexed_errors_refuses_only_those_batches() -> None:
    body = (
        b'{"errors":[{"code":"BAD_REQUEST","message":"Error converting value &quot;jane@example.com&quot; '
        b"to type 'System.Guid'. Path '[1].device_info.ios_advertising_id', line 1, position 153.\"}]}"
    )
    api = FakeApi([Response(202, body)])
    results = deliver(api, [batch(i) for i in range(3)]).results
    assert results[0] == DELIVERED and results[2] == DELIVERED
    assert isinstance(results[1], Refused)
    assert "device_info.ios_advertising_id" in results[1].reason
    assert "jane@example.com" not in results[1].reason
    assert len(api.calls) == 1


def test_202_with_unplaceable_error_resends_one_by_one_to_learn_which() -> None:
    def reply(path: str, batches: list) -> Response:
        if path == "/bulkevents":
            return Response(202, b'{"errors":[{"code":"BAD_REQUEST","message":"something is wrong"}]}')
        bad = batches[0]["source_request_id"] == "id-1"
        return Response(202, b'{"errors":[{"message":"bad"}]}' if bad else b"")

    api = FakeApi([reply])
    results = deliver(api, [batch(i) for i in range(3)]).results
    assert results[0] == DELIVERED and results[2] == DELIVERED
    assert isinstance(results[1], Refused)
    assert [p for p, _ in api.calls] == ["/bulkevents", "/events", "/events", "/events"]
    assert api.sent_ids() == ["id-0", "id-1", "id-2", "id-0", "id-1", "id-2"]


def test_400_on_bulk_splits_to_isolate_the_refused_batch() -> None:
    def reply(path: str, batches: list) -> Response:
        if any(b["source_request_id"] == "id-5" for b in batches):
            return Response(400, b'{"errors":[{"code":"BAD_REQUEST","message":"bad field"}]}')
        return Response(202)

    api = FakeApi([reply])
    sent = deliver(api, [batch(i) for i in range(8)])
    results = sent.results
    assert [type(r) for r in results] == [type(DELIVERED)] * 5 + [Refused] + [type(DELIVERED)] * 2
    accepted = [b["source_request_id"] for p, bs in api.calls for b in bs if "id-5" not in str(bs)]
    assert sorted(accepted) == sorted(f"id-{i}" for i in range(8) if i != 5)
    assert len(accepted) == len(set(accepted)), "an accepted batch was posted twice"
    assert sent.stats.splits >= 3


def test_413_on_single_batch_is_refused() -> None:
    api = FakeApi([Response(413)])
    results = deliver(api, [batch(0)]).results
    assert isinstance(results[0], Refused) and "413" in results[0].reason


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff(status: int) -> None:
    clock = FakeClock()
    api = FakeApi([Response(status), Response(status), Response(202)], clock=clock)
    sent = deliver(api, [batch(0), batch(1)], clock=clock)
    results = sent.results
    assert results == [DELIVERED] * 2
    assert len(api.calls) == 3
    assert sent.stats.retries == 2
    assert len(clock.slept) == 2 and all(0 <= s <= 8 for s in clock.slept)


def test_connection_errors_are_retried() -> None:
    api = FakeApi([TransportError("ProtocolError"), Response(202)])
    results = deliver(api, [batch(0)]).results
    assert results == [DELIVERED]
    assert len(api.calls) == 2


def test_429_waits_retry_after_then_retries() -> None:
    clock = FakeClock()
    api = FakeApi([Response(429, retry_after=3.0), Response(202)], clock=clock)
    sent = deliver(api, [batch(0)], clock=clock)
    results = sent.results
    assert results == [DELIVERED]
    assert clock.slept == [3.0]
    assert sent.stats.throttled == 1


def test_429_without_retry_after_backs_off_with_jitter() -> None:
    clock = FakeClock()
    api = FakeApi([Response(429)] * 3 + [Response(202)], clock=clock)
    results = deliver(api, [batch(0)], clock=clock).results
    assert results == [DELIVERED]
    assert len(clock.slept) == 3
    assert all(0 <= s <= 0.25 * 2**n for n, s in enumerate(clock.slept))


def test_retry_after_beyond_the_deadline_fails_with_the_hint_and_does_not_wait() -> None:
    clock = FakeClock()
    api = FakeApi([Response(429, retry_after=60.0)], clock=clock)
    results = deliver(api, [batch(0)], clock=clock, deadline=20.0).results
    assert results == [Failed("HTTP 429", 60.0)]
    assert clock.slept == []


def test_outage_fails_at_the_deadline_never_past_it() -> None:
    clock = FakeClock()
    api = FakeApi([Response(503)], clock=clock, cost=0.5)
    results = deliver(api, [batch(0), batch(1)], clock=clock, deadline=20.0).results
    assert all(isinstance(r, Failed) for r in results)
    assert clock.now <= 20.0
    assert len(api.calls) > 3


def test_request_timeout_is_cut_to_the_remaining_time() -> None:
    seen: list[float] = []

    class Api(FakeApi):
        def post(self, path: str, body: bytes, timeout: float) -> Response:
            seen.append(timeout)
            return super().post(path, body, timeout)

    clock = FakeClock(now=18.0)
    results = deliver(Api(), [batch(0)], clock=clock, deadline=20.0).results
    assert results == [DELIVERED]
    assert seen == [pytest.approx(2.0)]


def test_no_request_is_started_too_close_to_the_deadline() -> None:
    api = FakeApi()
    results = deliver(api, [batch(0)], clock=FakeClock(now=19.8), deadline=20.0).results
    assert isinstance(results[0], Failed)
    assert api.calls == []


def test_403_reads_the_secret_again_once_then_succeeds() -> None:
    api = FakeApi([Response(403), Response(202)])
    sent = deliver(api, [batch(0), batch(1)])
    assert sent.results == [DELIVERED] * 2
    assert api.credential_reloads == 1
    assert sent.stats.credentials_failure is None, "a rotation the re-read fixed is no failure"


@pytest.mark.parametrize("status", [401, 403])
def test_credentials_still_refused_fail_everything_without_dead_lettering(status: int) -> None:
    api = FakeApi([Response(status)])
    batches = [batch(i) for i in range(150)]
    sent = deliver(api, batches)
    assert all(isinstance(r, Failed) for r in sent.results)
    assert api.credential_reloads == 1
    assert len(api.calls) == 2, "after a second refusal no more requests are sent"
    assert sent.stats.credentials_failure is not None
    assert str(status) in sent.stats.credentials_failure


def test_unreadable_secret_fails_everything() -> None:
    class Api(FakeApi):
        def load_credentials(self, refresh: bool, time_left: float) -> None:
            raise CredentialsError("cannot read secret s: AccessDeniedException")

    api = Api()
    sent = deliver(api, [batch(0), batch(1)])
    assert all(isinstance(r, Failed) and "AccessDenied" in r.reason for r in sent.results)
    assert sent.stats.credentials_failure == "credentials: cannot read secret s: AccessDeniedException"
    assert api.calls == [], "nothing is posted without the key/secret"


def test_no_time_to_read_the_secret_fails_everything_unsent() -> None:
    class Api(FakeApi):
        def load_credentials(self, refresh: bool, time_left: float) -> None:
            raise DeadlineError("no time left to read secret s")

    api = Api()
    results = deliver(api, [batch(0), batch(1)]).results
    assert results == [DEADLINE_REACHED, DEADLINE_REACHED]
    assert api.calls == []


def test_unexpected_status_fails_without_retrying() -> None:
    api = FakeApi([Response(404)])
    results = deliver(api, [batch(0)]).results
    assert isinstance(results[0], Failed) and "404" in results[0].reason
    assert len(api.calls) == 1


def test_decimal_bodies_reach_the_api_exactly() -> None:
    api = FakeApi()
    body = wire.dumps({"source_request_id": "a", "events": [{"data": {"amount": Decimal("19.99")}}]})
    deliver(api, [body])
    assert api.calls[0][1][0]["events"][0]["data"]["amount"] == Decimal("19.99")


def test_retry_after_past_the_deadline_stops_all_further_requests() -> None:
    api = FakeApi([Response(429, retry_after=60.0)])
    sent = deliver(api, [batch(i) for i in range(250)], deadline=20.0)
    assert all(isinstance(r, Failed) and r.retry_after == 60.0 for r in sent.results)
    assert len(api.calls) == 1
    assert sent.stats.credentials_failure is None, "a halt for throttling is no credentials failure"


def test_retry_after_zero_still_backs_off() -> None:
    clock = FakeClock()
    api = FakeApi([Response(429, retry_after=0.0), Response(202)], clock=clock)
    results = deliver(api, [batch(0)], clock=clock).results
    assert results == [DELIVERED]
    assert len(clock.slept) == 1


def test_a_failed_secret_reread_fails_the_rest_without_raising() -> None:
    class Api(FakeApi):
        def load_credentials(self, refresh: bool, time_left: float) -> None:
            if refresh:
                raise CredentialsError("cannot read secret s: ThrottlingException")

    sent = deliver(Api([Response(401)]), [batch(0), batch(1)])
    assert all(isinstance(r, Failed) and "ThrottlingException" in r.reason for r in sent.results)
    assert sent.stats.credentials_failure is not None
    assert "ThrottlingException" in sent.stats.credentials_failure


def test_unparseable_retry_after_date_is_ignored() -> None:
    assert parse_retry_after("Wed, 21 Oct 99999 07:28:00 GMT") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("3") == 3.0


def test_stats_count_time_in_requests_and_waiting() -> None:
    clock = FakeClock()
    api = FakeApi([Response(429, retry_after=2), Response(202)], clock=clock, cost=0.5)
    sent = deliver(api, [batch(0)], clock=clock)
    assert sent.results == [DELIVERED]
    assert sent.stats.api_seconds == pytest.approx(1.0)
    assert sent.stats.waited_seconds == pytest.approx(2.0)


# --- pacing ------------------------------------------------------------------------------------------


def slow_pacer(clock: FakeClock, batches_per_second: float = 20.0) -> Pacer:
    return Pacer(batches_per_second, 1, clock, random.Random(3))


def test_paced_batches_go_in_shares_of_the_rate_and_all_arrive() -> None:
    clock = FakeClock()
    api = FakeApi(clock=clock, cost=0.05)
    sent = deliver(api, [batch(i) for i in range(100)], clock=clock, pacer=slow_pacer(clock))
    assert sent.results == [DELIVERED] * 100
    assert sorted(api.sent_ids()) == sorted(f"id-{i}" for i in range(100)), "each batch once"
    assert len(api.calls) > 1 and all(len(batches) < 100 for _, batches in api.calls)
    assert 100 / 20 - 1 <= clock.now <= 25.0, "at the rate, within the deadline"
    assert sent.stats.paced_seconds > 0


def test_batches_whose_share_cannot_come_before_the_deadline_are_failed_unsent() -> None:
    clock = FakeClock()
    api = FakeApi(clock=clock, cost=0.05)
    sent = deliver(api, [batch(i) for i in range(100)], clock=clock, deadline=3.0, pacer=slow_pacer(clock))
    delivered = [r for r in sent.results if r == DELIVERED]
    assert 10 <= len(delivered) < 100
    assert all(r in (DELIVERED, Failed(NO_SHARE)) for r in sent.results)
    assert len(api.sent_ids()) == len(delivered)
    assert clock.now <= 3.0


def test_the_api_s_answers_steer_the_pacer() -> None:
    clock = FakeClock()
    pacer = slow_pacer(clock, 100.0)
    api = FakeApi(
        [Response(429, retry_after=1.0, limit_exceeded="account"), Response(202, used_percent=200.0)],
        clock=clock,
    )
    start = pacer.rate
    assert deliver(api, [batch(0)], clock=clock, pacer=pacer).results == [DELIVERED]
    assert pacer.rate < start, "cut by the 429, and not grown while the usage header says it is high"


def test_a_request_that_failed_to_arrive_gives_its_share_back() -> None:
    clock = FakeClock()
    pacer = slow_pacer(clock, 20.0)
    api = FakeApi([TransportError("ConnectionResetError"), Response(202)], clock=clock, cost=0.05)
    rate = pacer.rate
    sent = deliver(api, [batch(i) for i in range(20)], clock=clock, pacer=pacer)
    assert sent.results == [DELIVERED] * 20
    charged = [len(batches) for _, batches in api.calls]
    # The reset request's share came back: the retry did not wait a second share's time.
    assert sent.stats.paced_seconds < sum(charged[1:]) / rate + 0.6


def test_records_held_by_a_retry_after_past_the_deadline_come_back_after_it() -> None:
    clock = FakeClock()
    pacer = slow_pacer(clock, 100.0)
    pacer.observe(429, 1, None, 120.0)
    sent = deliver(FakeApi(clock=clock), [batch(0), batch(1)], clock=clock, pacer=pacer)
    assert sent.results == [Failed(NO_SHARE, pytest.approx(120.0))] * 2


# --- outages -----------------------------------------------------------------------------------------


def test_once_the_api_is_down_the_invocation_stops_retrying_and_fails_the_rest_at_once() -> None:
    clock = FakeClock()
    api = FakeApi([Response(503)], clock=clock, cost=0.1)
    outage = Outage()
    sent = deliver(api, [batch(i) for i in range(150)], clock=clock, outage=outage)
    assert len(api.calls) == FAILURES_TO_OPEN, "then no more attempts: not the whole timeout"
    assert clock.now < 5.0
    assert all(isinstance(r, Failed) and r.reason.startswith(API_DOWN) for r in sent.results)
    assert outage.down and sent.stats.api_down


def test_while_down_each_invocation_sends_one_small_probe_with_a_short_timeout() -> None:
    clock = FakeClock()
    outage = Outage(failures=FAILURES_TO_OPEN)
    api = FakeApi([TransportError("NewConnectionError")], clock=clock, cost=0.01)
    sent = deliver(api, [batch(i) for i in range(150)], clock=clock, outage=outage)
    assert [len(batches) for _, batches in api.calls] == [1]
    assert api.timeouts == [PROBE_SECONDS]
    assert len(sent.results) == 150 and all(isinstance(r, Failed) for r in sent.results)


def test_a_probe_that_is_answered_ends_the_outage_and_the_rest_goes_in_bulk() -> None:
    outage = Outage(failures=FAILURES_TO_OPEN)
    api = FakeApi([Response(202)])
    sent = deliver(api, [batch(i) for i in range(150)], outage=outage)
    assert sent.results == [DELIVERED] * 150
    assert [len(batches) for _, batches in api.calls] == [1, 99, 50], "the packed requests, less the probe"
    assert not outage.down


def test_throttling_is_not_an_outage() -> None:
    clock = FakeClock()
    outage = Outage()
    api = FakeApi([Response(429)] * 5 + [Response(202)], clock=clock, cost=0.01)
    assert deliver(api, [batch(0)], clock=clock, outage=outage).results == [DELIVERED]
    assert outage.failures == 0


def test_a_probe_cut_short_while_the_api_was_answering_gets_the_full_timeout_next() -> None:
    """A slow API is not a dead one: it is given the request's whole timeout to show it."""
    outage = Outage(failures=FAILURES_TO_OPEN)
    late = TransportError("no complete answer before the request deadline", answered_late=True)
    deliver(FakeApi([late]), [batch(0)], outage=outage)
    api = FakeApi([Response(202)])
    assert deliver(api, [batch(0)], outage=outage).results == [DELIVERED]
    assert api.timeouts == [10.0]


def test_an_outage_begins_once_and_again_only_after_an_answer() -> None:
    outage = Outage()
    began = [outage.failed(float(t)) for t in range(FAILURES_TO_OPEN + 2)]
    assert began.index(True) == FAILURES_TO_OPEN - 1 and began.count(True) == 1
    outage.answered()
    assert [outage.failed(9.0) for _ in range(FAILURES_TO_OPEN)][-1] is True
