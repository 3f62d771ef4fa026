"""What our forwarder is measured against: two Lambda-handler-shaped forwarders that are never shipped.

- ``SdkForwarder``: the official mParticle Python SDK (``mparticle`` on PyPI), as its README shows:
  a ``Batch`` of models per record, ``EventsApi.bulk_upload_events`` in chunks of 100. It validates
  nothing: a chunk that raised is reported failed, anything else counts as delivered.
- ``NaiveForwarder``: one ``POST /v2/events`` per record with urllib3, no validation.

Both read the key/secret from Secrets Manager with boto3 (``ROKT_SECRET_ID``), post to
``ROKT_API_URL``, take the same SQS events as ours and answer with a partial batch response. They
import nothing of the forwarder but its envelope unwrapping, so their cold start is their own.
"""

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import mparticle
import urllib3
from mparticle.rest import ApiException

from rokt_forwarder.envelope import unwrap

CHUNK = 100  # bulk_upload_events takes up to 100 batches
IDENTITIES = ("email", "other", "customerid")
USER_ATTRIBUTES = ("firstname", "lastname", "mobile", "ipaddress", "billingzipcode", "dateofbirth", "gender")
EVENT_ATTRIBUTES: tuple[str, ...] = ("amount", "currency", "quantity", "margin", "conversiontype")
EVENT_ATTRIBUTES += ("productname", "sku", "paymenttype", "transactionid", "confirmationref")
# A fixed namespace, so a redelivered record keeps its source_request_id (the API deduplicates on it).
_NAMESPACE = uuid.UUID("0b4d4bbf-4f3c-4c43-9a55-52f5b9d2f1a7")

type Event = dict[str, Any]
type Response = dict[str, list[dict[str, str]]]


def read_secret() -> tuple[str, str]:
    """The key and secret through boto3, as a forwarder without Powertools reads them."""
    client = boto3.client("secretsmanager")
    value = json.loads(client.get_secret_value(SecretId=os.environ["ROKT_SECRET_ID"])["SecretString"])
    return value["api_key"], value["api_secret"]


class Fields:
    """A flat conversion's fields sorted into the places of a batch (no checks: the baselines have none)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.identities = {key: payload[key] for key in IDENTITIES if key in payload}
        self.user_attributes = {key: payload[key] for key in USER_ATTRIBUTES if key in payload}
        self.event_attributes = {key: payload[key] for key in EVENT_ATTRIBUTES if key in payload}
        stamp = payload.get("timestamp")
        self.timestamp_ms = (
            int(datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp() * 1000)
            if isinstance(stamp, str)
            else stamp
        )
        self.ip = payload.get("ipaddress")
        self.rtid = payload.get("rtid")


def source_request_id(message_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, message_id))


def full_batch(payload: dict[str, Any], message_id: str, environment: str) -> dict[str, Any]:
    """A producer's own batch goes out as it is, with the defaults it may leave out (the API needs them)."""
    for event in payload.get("events", []):
        if event.get("event_type") == "custom_event":
            event.get("data", {}).setdefault("custom_event_type", "transaction")
    return {"environment": environment, "source_request_id": source_request_id(message_id), **payload}


def partial_batch_response(failed: Iterator[str]) -> Response:
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


class SdkForwarder:
    """The official SDK, configured once per container as its README shows."""

    def __init__(self, api_url: str, api_key: str, api_secret: str, environment: str) -> None:
        configuration = mparticle.Configuration()
        configuration.host = api_url
        configuration.api_key = api_key
        configuration.api_secret = api_secret
        self._api = mparticle.EventsApi(configuration)
        self._environment = environment

    @classmethod
    def from_env(cls) -> "SdkForwarder":
        key, secret = read_secret()
        return cls(os.environ["ROKT_API_URL"], key, secret, os.environ.get("ROKT_ENVIRONMENT", "development"))

    def __call__(self, event: Event, context: object) -> Response:
        records = event["Records"]
        failed: list[str] = []
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            batches, ids = [], []
            for record in chunk:
                try:
                    batches.append(self._batch(record))
                    ids.append(record["messageId"])
                except Exception:
                    failed.append(record["messageId"])
            try:
                if batches:
                    self._api.bulk_upload_events(batches)
            except (ApiException, urllib3.exceptions.HTTPError):
                failed += ids
        return partial_batch_response(iter(failed))

    def _batch(self, record: dict[str, Any]) -> Any:
        payload, _ = unwrap(record["body"])
        message_id = record["messageId"]
        if "events" in payload:
            return full_batch(payload, message_id, self._environment)  # the SDK sends dicts as they are
        fields = Fields(payload)
        batch = mparticle.Batch()
        batch.environment = self._environment
        batch.source_request_id = source_request_id(message_id)
        identities = mparticle.UserIdentities()
        for key, value in fields.identities.items():
            setattr(identities, key, value)
        batch.user_identities = identities
        if fields.user_attributes:
            batch.user_attributes = fields.user_attributes
        if fields.ip:
            batch.ip = fields.ip
        if fields.rtid:
            identities.other_id_2 = fields.rtid
            batch.integration_attributes = {"1277": {"passbackconversiontrackingid": fields.rtid}}
        app_event = mparticle.AppEvent("conversion", "transaction", custom_attributes=fields.event_attributes)
        app_event.source_message_id = message_id
        if fields.timestamp_ms is not None:
            app_event.timestamp_unixtime_ms = fields.timestamp_ms
        batch.events = [app_event]
        return batch


class NaiveForwarder:
    """One request per record: the simplest forwarder that works, and the most requests."""

    def __init__(self, api_url: str, api_key: str, api_secret: str, environment: str) -> None:
        self._url = api_url.rstrip("/") + "/events"
        self._headers = {
            **urllib3.make_headers(basic_auth=f"{api_key}:{api_secret}"),
            "Content-Type": "application/json",
        }
        self._pool = urllib3.PoolManager(retries=False)
        self._environment = environment

    @classmethod
    def from_env(cls) -> "NaiveForwarder":
        key, secret = read_secret()
        return cls(os.environ["ROKT_API_URL"], key, secret, os.environ.get("ROKT_ENVIRONMENT", "development"))

    def __call__(self, event: Event, context: object) -> Response:
        return partial_batch_response(
            record["messageId"] for record in event["Records"] if not self._send(record)
        )

    def _send(self, record: dict[str, Any]) -> bool:
        try:
            body = json.dumps(self._batch(record)).encode()
            response = self._pool.request("POST", self._url, body=body, headers=self._headers, timeout=10.0)
        except Exception:
            return False
        return 200 <= response.status < 300

    def _batch(self, record: dict[str, Any]) -> dict[str, Any]:
        payload, _ = unwrap(record["body"])
        message_id = record["messageId"]
        if "events" in payload:
            return full_batch(payload, message_id, self._environment)
        fields = Fields(payload)
        data: dict[str, Any] = {
            "event_name": "conversion",
            "custom_event_type": "transaction",
            "source_message_id": message_id,
            "custom_attributes": fields.event_attributes,
        }
        if fields.timestamp_ms is not None:
            data["timestamp_unixtime_ms"] = fields.timestamp_ms
        batch: dict[str, Any] = {
            "environment": self._environment,
            "source_request_id": source_request_id(message_id),
            "user_identities": fields.identities,
            "events": [{"event_type": "custom_event", "data": data}],
        }
        if fields.user_attributes:
            batch["user_attributes"] = fields.user_attributes
        if fields.ip:
            batch["ip"] = fields.ip
        if fields.rtid:
            batch["integration_attributes"] = {"1277": {"passbackconversiontrackingid": fields.rtid}}
        return batch
