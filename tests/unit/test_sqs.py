"""The SQS adapter's own rules: chunking, fallback one by one, and never a call without time for it."""

from typing import Any

from rokt_forwarder import sqs
from rokt_forwarder.ports import DeadLetter, Delay


class Client:
    """A stand-in boto3 SQS client that records calls (and can refuse every batch)."""

    def __init__(self, fail_batches: bool = False) -> None:
        self.fail_batches = fail_batches
        self.calls: list[tuple[str, Any]] = []
        self.meta = type("Meta", (), {"endpoint_url": "https://sqs.us-east-1.amazonaws.com"})

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("batch", kwargs))
        if self.fail_batches:
            raise RuntimeError("BatchRequestTooLong")
        return {"Successful": [{"Id": e["Id"]} for e in kwargs["Entries"]], "Failed": []}

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("one", kwargs))
        return {}

    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("delay", kwargs))
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


def sqs_size(entry: dict[str, Any]) -> int:
    """A message's size as SQS counts it (body, and each attribute's name, type and value); moto does not."""
    attributes = entry.get("MessageAttributes", {}).items()
    return len(entry["MessageBody"].encode()) + sum(
        len(name) + len(value["DataType"]) + len(value["StringValue"].encode()) for name, value in attributes
    )


def test_a_body_near_the_size_limit_is_dead_lettered_whole_with_as_much_reason_as_fits() -> None:
    client = Client()
    body = "é" * ((sqs.MAX_MESSAGE_BYTES - 40) // 2)  # 2 bytes a character: 40 bytes left for attributes
    unsent = adapter(client).dead_letter(
        "https://q/dlq", [DeadLetter("m1", body, "email: must be an email address; " * 20, "arn:a:b:c:d:q")]
    )
    assert unsent == set()
    entry = client.calls[0][1]["Entries"][0]
    assert entry["MessageBody"] == body, "the body is never cut"
    assert sqs_size(entry) <= sqs.MAX_MESSAGE_BYTES
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
        assert sum(sqs_size(entry) for entry in call["Entries"]) <= sqs.MAX_SEND_BATCH_BYTES
    assert [len(call["Entries"]) for _, call in client.calls] == [2, 1]
