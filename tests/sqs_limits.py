"""SQS's own limits on a call, written out from the SQS API reference independently of sqs.py.

moto checks only some of them (not the size of attributes, not the entries of a visibility batch), and
sqs.py falls back to one message at a time when a batch call fails, so a batch SQS would refuse is
invisible in what arrives. Tests check every call the adapter makes against these limits instead.

Sizes follow the template, whose queues take at most 256 KiB per message (SQS's default; the service
maximum is higher), and SendMessageBatch counts every message of the call, attributes included.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

MAX_ENTRIES = 10
MAX_BYTES = 256 * 1024  # per message, and per SendMessageBatch call in all
MAX_ATTRIBUTES = 10
MAX_NAME_CHARS = 256  # an attribute's name, and its data type
MAX_VISIBILITY_SECONDS = 12 * 60 * 60
_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_FIFO_ID = re.compile(r"[!-~]{1,128}")  # MessageGroupId, MessageDeduplicationId
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\..+)?")
# The characters a body or a string attribute may hold (XML 1.0's).
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def message_size(entry: Mapping[str, Any]) -> int:
    """The body's UTF-8 bytes plus each attribute's name, data type and value, as SQS counts them."""
    size = len(entry["MessageBody"].encode("utf-8", "surrogatepass"))
    for name, value in entry.get("MessageAttributes", {}).items():
        data = value.get("StringValue", "").encode("utf-8", "surrogatepass") + value.get("BinaryValue", b"")
        size += len(name.encode()) + len(value["DataType"].encode()) + len(data)
    return size


def _text(what: str, text: str) -> list[str]:
    if not text:
        return [f"{what} is empty"]
    return [f"{what} holds a character SQS refuses"] if _FORBIDDEN.search(text) else []


def _attribute(name: str, value: Mapping[str, Any]) -> list[str]:
    problems = []
    lowered = name.lower()
    if (
        len(name) > MAX_NAME_CHARS
        or not _ATTRIBUTE_NAME.fullmatch(name)
        or name.startswith(".")
        or name.endswith(".")
        or ".." in name
        or lowered.startswith(("aws.", "amazon."))
    ):
        problems.append(f"attribute name {name[:40]!r} is not one SQS takes")
    data_type = value.get("DataType", "")
    if len(data_type) > MAX_NAME_CHARS or not _DATA_TYPE.fullmatch(data_type):
        problems.append(f"attribute {name}: data type {data_type[:40]!r}")
    if data_type.startswith("Binary"):
        problems += [] if value.get("BinaryValue") else [f"attribute {name} is empty"]
    else:
        problems += _text(f"attribute {name}", value.get("StringValue", ""))
    return problems


def _message(entry: Mapping[str, Any], fifo: bool) -> list[str]:
    problems = _text("body", entry["MessageBody"])
    attributes = entry.get("MessageAttributes", {})
    if len(attributes) > MAX_ATTRIBUTES:
        problems.append(f"{len(attributes)} attributes (at most {MAX_ATTRIBUTES})")
    for name, value in attributes.items():
        problems += _attribute(name, value)
    if (size := message_size(entry)) > MAX_BYTES:
        problems.append(f"a message of {size} bytes (at most {MAX_BYTES})")
    for key in ("MessageGroupId", "MessageDeduplicationId"):
        if fifo and not _FIFO_ID.fullmatch(entry.get(key, "")):
            problems.append(f"{key} {entry.get(key, '')[:40]!r}")
        if not fifo and key == "MessageGroupId" and key in entry:
            problems.append("MessageGroupId on a standard queue")
    return problems


def _entries(entries: list[Mapping[str, Any]]) -> list[str]:
    problems = []
    if not 1 <= len(entries) <= MAX_ENTRIES:
        problems.append(f"{len(entries)} entries (1 to {MAX_ENTRIES})")
    ids = [entry["Id"] for entry in entries]
    if len(set(ids)) < len(ids):
        problems.append("entry ids repeat")
    problems += [f"entry id {i[:40]!r}" for i in ids if not _ENTRY_ID.fullmatch(i)]
    return problems


def violations(operation: str, params: Mapping[str, Any]) -> list[str]:
    """What SQS would refuse in this call (empty when it takes it)."""
    fifo = params.get("QueueUrl", "").endswith(".fifo")
    match operation:
        case "SendMessage":
            return _message(params, fifo)
        case "SendMessageBatch":
            entries = params["Entries"]
            problems = _entries(entries)
            for entry in entries:
                problems += _message(entry, fifo)
            if (total := sum(message_size(entry) for entry in entries)) > MAX_BYTES:
                problems.append(f"a batch of {total} bytes (at most {MAX_BYTES})")
            return problems
        case "ChangeMessageVisibilityBatch" | "DeleteMessageBatch":
            problems = _entries(params["Entries"])
            for entry in params["Entries"]:
                if not 0 <= entry.get("VisibilityTimeout", 0) <= MAX_VISIBILITY_SECONDS:
                    problems.append(f"visibility timeout {entry['VisibilityTimeout']}")
            return problems
    return []


class Recorder:
    """Checks each call against SQS's limits, keeps what it finds, and refuses the call as SQS would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Mapping[str, Any]]] = []
        self.violations: list[str] = []

    def check(self, operation: str, params: Mapping[str, Any]) -> None:
        self.calls.append((operation, params))
        if found := violations(operation, params):
            self.violations += [f"{operation}: {problem}" for problem in found]
            raise ClientError({"Error": {"Code": "InvalidParameterValue", "Message": found[0]}}, operation)

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]

    def hook(self) -> Callable[..., None]:
        """For a boto3 client: `client.meta.events.register("provide-client-params.sqs", recorder.hook())`."""

        def check(params: Mapping[str, Any], model: Any, **_: object) -> None:
            self.check(model.name, params)

        return check
