"""Build the Event API batch for one record, in the shape of the integration guide's example payload.

One batch per record (one user). Its ids derive from the batch's own content, not from the SQS
message that carried it: every way a message comes back (SQS's redelivery, its move to the DLQ, the
move task or the DLQ tool sending it back under a new messageId, the producer sending it again) gives
the same conversion the same ids, so the API counts it once (docs/event-api.md, "Deduplication ids").
"""

import uuid
from collections.abc import Mapping
from typing import Any

from rokt_forwarder import limits, pii, reasons, rules, wire
from rokt_forwarder.envelope import open_envelopes
from rokt_forwarder.errors import RefusedError
from rokt_forwarder.mapping import NO_MAPPINGS, Mappings
from rokt_forwarder.message import EVENT_FIELDS, USER_FIELDS, Conversion, FullBatch, Message, parse_message

# Fixed namespace: the same batch must give the same source_request_id in every container.
_NAMESPACE = uuid.UUID("5b7e0c52-4a39-4d7e-9a54-6f1c3a0d2b8e")
ROKT_INTEGRATION_ID = "1277"


def source_id(content: bytes | str) -> str:
    """A UUIDv5 of `content`: a batch's source_request_id, or an event's source_message_id.

    `content` is the batch's canonical JSON, or the batch's source_request_id and the event's index.
    """
    return str(uuid.uuid5(_NAMESPACE, content))


def prepare(
    body: str,
    *,
    environment: str,
    hash_pii: bool,
    now_ms: int,
    mappings: Mappings = NO_MAPPINGS,
    data_plan: Mapping[str, Any] | None = None,
) -> bytes:
    """A record's body as the batch's wire bytes: envelope, message, rules; RefusedError says why not.

    A producer's event that one of `mappings` owns becomes its flat conversion first (SkippedError
    when the mapping says it is not a conversion). The one path from body to batch, for the forwarder
    and for the tools that must judge a message as it does (`make dlq ARGS="validate …"`, the benchmarks).
    """
    opened = open_envelopes(body)
    mapped = mappings.convert(opened.document)
    message = parse_message(opened.message if mapped is None else mapped, now_ms=now_ms)
    return build(message, environment=environment, hash_pii=hash_pii, now_ms=now_ms, data_plan=data_plan)


def build(
    message: Message,
    *,
    environment: str,
    hash_pii: bool,
    now_ms: int,
    data_plan: Mapping[str, Any] | None = None,
) -> bytes:
    """The batch as wire bytes; raises RefusedError naming every rule it breaks.

    The ids are those of the batch as built before any hashing, its keys in sorted order: the same
    conversion, however its fields were ordered, enveloped or sent, and whatever HASH_PII says.
    `data_plan` ({"plan_id", "plan_version"}) becomes the batch's context.data_plan, unless a full
    batch names its own.
    """
    if isinstance(message, Conversion):
        batch = _from_conversion(message, environment=environment)
    else:
        batch = _with_defaults(message, environment=environment)
    if data_plan:
        batch = _with_data_plan(batch, data_plan)
    if violations := rules.check_batch(batch, now_ms=now_ms):
        raise RefusedError(reasons.join([str(v) for v in violations]))
    batch = _with_ids(batch, source_id(_dumps(batch, sort_keys=True)))
    if hash_pii:
        batch = pii.hash_batch(batch)
    body = _dumps(batch)
    if len(body) > limits.MAX_BATCH_BYTES:
        raise RefusedError(f"batch: {len(body)} bytes is over the {limits.MAX_BATCH_BYTES}-byte batch limit")
    return body


def _dumps(batch: dict[str, Any], *, sort_keys: bool = False) -> bytes:
    try:
        return wire.dumps(batch, sort_keys=sort_keys)
    except UnicodeEncodeError:
        raise RefusedError("text must be valid Unicode (it holds a lone surrogate)") from None
    except RecursionError:
        raise RefusedError("batch: nested too deeply") from None


def _from_conversion(message: Conversion, *, environment: str) -> dict[str, Any]:
    fields = message.fields
    identities = {key: fields[key] for key in ("email", "other", "customerid") if key in fields}
    attributes = {key: fields[key] for key in USER_FIELDS if key in fields}
    attributes.update(fields.get("user_attributes", {}))
    event_attributes = {key: fields[key] for key in EVENT_FIELDS if key in fields}
    event_attributes.update(fields.get("custom_attributes", {}))
    data: dict[str, Any] = {
        "event_name": "conversion",
        "custom_event_type": "transaction",
        "custom_attributes": event_attributes,
    }
    if "timestamp" in fields:
        data["timestamp_unixtime_ms"] = fields["timestamp"]
    batch: dict[str, Any] = {
        "environment": fields.get("environment", environment),
        "user_identities": identities,
        "events": [{"event_type": "custom_event", "data": data}],
    }
    if attributes:
        batch["user_attributes"] = attributes
    if "ipaddress" in fields:
        batch["ip"] = fields["ipaddress"]
    if "user_agent" in fields:
        batch["device_info"] = {"http_header_user_agent": fields["user_agent"]}
    if "consent_state" in fields:
        batch["consent_state"] = fields["consent_state"]
    if "rtid" in fields:
        identities["other2"] = fields["rtid"]
        batch["integration_attributes"] = {
            ROKT_INTEGRATION_ID: {"passbackconversiontrackingid": fields["rtid"]}
        }
    return batch


def _with_data_plan(batch: dict[str, Any], data_plan: Mapping[str, Any]) -> dict[str, Any]:
    context = batch.get("context")
    if context is None:
        return {**batch, "context": {"data_plan": dict(data_plan)}}
    if isinstance(context, dict) and "data_plan" not in context:
        return {**batch, "context": {**context, "data_plan": dict(data_plan)}}
    return batch  # the producer's own plan (or a context the API judges)


def _with_defaults(message: FullBatch, *, environment: str) -> dict[str, Any]:
    """Pass the producer's batch through unchanged but for the defaults it left out."""
    batch = dict(message.batch)
    batch.setdefault("environment", environment)
    events = batch.get("events")
    if isinstance(events, list):
        batch["events"] = [_event_defaults(event) for event in events]
    return batch


def _event_defaults(event: Any) -> Any:
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        return event
    if event.get("event_type") != "custom_event" or "custom_event_type" in event["data"]:
        return event
    return {**event, "data": {**event["data"], "custom_event_type": "transaction"}}


def _with_ids(batch: dict[str, Any], source_request_id: str) -> dict[str, Any]:
    """The batch with the ids it lacks: `source_request_id` for itself, one derived from it per event.

    A producer's own ids are kept.
    """
    batch = {**batch, "source_request_id": batch.get("source_request_id", source_request_id)}
    events = batch.get("events")
    if isinstance(events, list):
        batch["events"] = [
            {
                **event,
                "data": {"source_message_id": source_id(f"{source_request_id}/{index}"), **event["data"]},
            }
            if isinstance(event, dict) and isinstance(event.get("data"), dict)
            else event
            for index, event in enumerate(events)
        ]
    return batch
