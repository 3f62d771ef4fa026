"""The SQS adapter's own rules: chunking, fallback one by one, and never a call without time for it."""

from typing import Any

import pytest
from sqs_limits import Recorder, message_size

from rokt_forwarder.adapters import sqs
from rokt_forwarder.ports import DeadLetter, Delay


class Client:
    """A stand-in boto3 SQS client that records calls, refuses those SQS would (sqs_limits), and can
    refuse every batch."""

    def __init__(self, fail_batches: bool = False) -> None:
        self.fail_batches = fail_batches
        self.calls: list[tuple[str, Any]] = []
        self.limits = Recorder()
        self.meta = type("Meta", (), {"endpoint_url": "https://sqs.us-east-1.amazonaws.com"})

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("batch", kwargs))
        self.limits.check("SendMessageBatch", kwargs)
        if self.fail_batches:
            raise RuntimeError("BatchRequestTooLong")
        return {"Successful": [{"Id": e["Id"]} for e in kwargs["Entries"]], "Failed": []}

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("one", kwargs))
        self.limits.check("SendMessage", kwargs)
        return {}

    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("delay", kwargs))
        self.limits.check("ChangeMessageVisibilityBatch", kwargs)
        return {}


def adapter(client: Client) -> sqs.Sqs:
    return sqs.Sqs(client)  # type: ignore[arg-type]


def letter(n: int, size: int = 10) -> DeadLetter:
    return DeadLetter(f"m{n}", "x" * size, "reason", "arn:aws:sqs:us-east-1:123456789012:q")


def test_letters_are_chunked_by_count_and_bytes() -> None:
    client = Client()
    unsent = adapter(client).dead_letter(
        "https://q/dlq", [letter(n, 100_000) for n in range(5)] + [letter(9)]
    )
    assert unsent == set()
    assert [len(kwargs["Entries"]) for _, kwargs in client.calls] == [2, 2, 2]


def test_a_refused_batch_falls_back_to_one_by_one() -> None:
    client = Client(fail_batches=True)
    assert adapter(client).dead_letter("https://q/dlq", [letter(1), letter(2)]) == set()
    assert [kind for kind, _ in client.calls] == ["batch", "one", "one"]


def test_no_call_is_started_without_time_for_it() -> None:
    client = Client()
    delays = [Delay("m1", "h", "arn:aws:sqs:us-east-1:123456789012:q", 30)]
    assert adapter(client).dead_letter("https://q/dlq", [letter(1)], lambda: 1.0) == {"m1"}
    adapter(client).delay(delays, lambda: 1.0)
    assert client.calls == []


def test_reason_attribute_is_printable_unicode() -> None:
    client = Client()
    adapter(client).dead_letter("https://q/dlq", [DeadLetter("m", "b", "bad \ud800 key\n", "arn:a:b:c:d:q")])
    reason = client.calls[0][1]["Entries"][0]["MessageAttributes"]["reason"]["StringValue"]
    assert reason == "bad ? key?"


def test_queue_url_from_arn_on_the_client_endpoint() -> None:
    url = adapter(Client()).queue_url("arn:aws:sqs:us-east-1:123456789012:rokt-conversions")
    assert url == "https://sqs.us-east-1.amazonaws.com/123456789012/rokt-conversions"


def test_a_body_near_the_size_limit_is_dead_lettered_whole_with_as_much_reason_as_fits() -> None:
    client = Client()
    body = "é" * ((sqs.MAX_MESSAGE_BYTES - 40) // 2)  # 2 bytes a character: 40 bytes left for attributes
    unsent = adapter(client).dead_letter(
        "https://q/dlq", [DeadLetter("m1", body, "email: must be an email address; " * 20, "arn:a:b:c:d:q")]
    )
    assert unsent == set()
    entry = client.calls[0][1]["Entries"][0]
    assert entry["MessageBody"] == body, "the body is never cut"
    assert message_size(entry) <= sqs.MAX_MESSAGE_BYTES
    reason = entry["MessageAttributes"]["reason"]["StringValue"]
    assert reason.startswith("email: must") and reason.endswith("…")


def test_a_body_at_the_limit_goes_without_attributes_rather_than_not_at_all() -> None:
    client = Client()
    body = "x" * sqs.MAX_MESSAGE_BYTES
    assert (
        adapter(client).dead_letter("https://q/dlq", [DeadLetter("m1", body, "why", "arn:a:b:c:d:q")])
        == set()
    )
    entry = client.calls[0][1]["Entries"][0]
    assert entry["MessageBody"] == body and entry["MessageAttributes"] == {}


def test_attributes_count_toward_a_batch_s_size() -> None:
    client = Client()
    reason = "r" * 1000
    letters = [DeadLetter(f"m{n}", "x" * 86_500, reason, "arn:a:b:c:d:q") for n in range(3)]
    adapter(client).dead_letter("https://q/dlq", letters)
    for _, call in client.calls:
        assert sum(message_size(entry) for entry in call["Entries"]) <= sqs.MAX_CALL_BYTES
    assert [len(call["Entries"]) for _, call in client.calls] == [2, 1]


def test_twenty_five_letters_go_in_batches_sqs_takes_never_one_by_one() -> None:
    client = Client()
    letters = [letter(n) for n in range(25)]
    assert adapter(client).dead_letter("https://q/dlq", letters) == set()
    assert client.limits.violations == []
    assert [(kind, len(call["Entries"])) for kind, call in client.calls] == [
        ("batch", 10),
        ("batch", 10),
        ("batch", 5),
    ]


@pytest.mark.parametrize("fifo", [False, True])
def test_large_letters_with_long_reasons_stay_within_every_sqs_limit(fifo: bool) -> None:
    client = Client()
    reason = "email: must be an email address; \u00e9\U0001f600 " * 60  # cut to fit, in whole characters
    letters = [
        DeadLetter(f"m{n}", "é" * (15_000 * (n + 1)), reason, "arn:aws:sqs:us-east-1:1:q", group_id="g")
        for n in range(8)
    ]
    dlq = "https://q/dlq.fifo" if fifo else "https://q/dlq"
    assert adapter(client).dead_letter(dlq, letters) == set()
    assert client.limits.violations == []
    assert {kind for kind, _ in client.calls} == {"batch"}, "no batch was refused"
    sent = [entry["MessageBody"] for _, call in client.calls for entry in call["Entries"]]
    assert sent == [letter.body for letter in letters], "every body, whole, in order"


def test_twenty_five_delays_go_in_batches_sqs_takes() -> None:
    client = Client()
    queue = "arn:aws:sqs:us-east-1:123456789012:q"
    adapter(client).delay([Delay(f"m{n}", f"h{n}", queue, 900) for n in range(25)])
    assert client.limits.violations == []
    assert [len(call["Entries"]) for _, call in client.calls] == [10, 10, 5]
