"""The sandbox over real HTTP: the Event API contract a sender and its tests rely on."""

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import urllib3
from urllib3.exceptions import ProtocolError

from devstack.ratelimit import Usage
from devstack.sandbox import Sandbox, SandboxConfig, parse_outage
from rokt_forwarder import limits

VALID: dict[str, Any] = {
    "environment": "development",
    "user_identities": {"email": "jane@example.com"},
    "events": [
        {
            "event_type": "custom_event",
            "data": {
                "event_name": "conversion",
                "custom_event_type": "transaction",
                "custom_attributes": {"amount": 19.99, "currency": "USD"},
            },
        }
    ],
}
INDEX = re.compile(r"Path '\[(\d+)\]")
HTTP = urllib3.PoolManager(retries=False, timeout=5.0)


def batch(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(VALID), **changes}


def post(
    api: Sandbox, path: str, body: object, *, auth: str | None = "sandbox-key:sandbox-secret"
) -> urllib3.BaseHTTPResponse:
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers.update(urllib3.make_headers(basic_auth=auth))
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HTTP.request("POST", api.url + path, body=data, headers=headers)


def sandbox(**settings: Any) -> Sandbox:
    return Sandbox(SandboxConfig(**settings))


@pytest.fixture
def api() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def test_missing_credentials_are_401_and_wrong_ones_403(api: Sandbox) -> None:
    assert post(api, "/events", VALID, auth=None).status == 401
    assert post(api, "/events", VALID, auth="sandbox-key:wrong").status == 403
    assert api.accepted_batches() == []


def test_a_valid_batch_is_accepted_with_an_empty_body(api: Sandbox) -> None:
    response = post(api, "/events", VALID)
    assert (response.status, response.data) == (202, b"")
    assert response.headers["X-mp-rate-limit-percentage-used"].isdigit()
    assert api.accepted_batches() == [json.loads(json.dumps(VALID), parse_float=Decimal)]


def test_a_valid_bulk_is_accepted_with_an_empty_body(api: Sandbox) -> None:
    response = post(api, "/bulkevents", [VALID, VALID])
    assert (response.status, response.data) == (202, b"")
    assert api.stats()["batches_accepted"] == 2


def test_an_invalid_batch_is_400_naming_path_and_rule_but_not_the_value(api: Sandbox) -> None:
    invalid = copy.deepcopy(VALID)
    invalid["events"][0]["data"]["custom_attributes"]["amount"] = {"not": "a-scalar-jane"}
    response = post(api, "/events", invalid)
    assert response.status == 400
    errors = response.json()["errors"]
    rule = "events[0].data.custom_attributes.amount: must be a string, number, boolean or null"
    assert errors == [{"code": "BAD_REQUEST", "message": rule}]
    assert b"a-scalar-jane" not in response.data
    assert api.stats()["batches_refused"] == 1


def test_malformed_json_is_400(api: Sandbox) -> None:
    response = post(api, "/events", b'{"environment": ')
    assert response.status == 400
    assert "not valid JSON" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("path", ["/events", "/bulkevents"])
def test_nan_and_infinity_are_400_as_the_forwarder_refuses_them(
    api: Sandbox, path: str, constant: str
) -> None:
    text = json.dumps(VALID).replace("19.99", constant)
    response = post(api, path, (f"[{text}]" if path == "/bulkevents" else text).encode())
    assert response.status == 400
    assert f"{constant} is not valid JSON" in response.json()["errors"][0]["message"]
    assert api.accepted_batches() == []


def test_a_partly_refused_bulk_is_202_naming_the_refused_index(api: Sandbox) -> None:
    first, last = batch(source_request_id="a"), batch(source_request_id="c")
    refused = batch(device_info={"ios_advertising_id": "secret-not-a-guid"})
    response = post(api, "/bulkevents", [first, refused, last])
    assert response.status == 202
    [error] = response.json()["errors"]
    assert INDEX.findall(error["message"]) == ["1"]
    assert "System.Guid" in error["message"] and "[1].device_info.ios_advertising_id" in error["message"]
    assert b"secret-not-a-guid" not in response.data
    assert [b["source_request_id"] for b in api.accepted_batches()] == ["a", "c"]


def test_a_bulk_refused_whole_is_still_202_with_every_index(api: Sandbox) -> None:
    bad = batch(user_identities={"email": "jane@example.com", "emial": "typo"})
    response = post(api, "/bulkevents", [bad, bad])
    assert response.status == 202
    messages = [e["message"] for e in response.json()["errors"]]
    assert INDEX.findall(" ".join(messages)) == ["0", "1"]
    assert "Path '[0].user_identities', rule: has no property emial." in messages[0]


def test_an_oversized_batch_is_refused_like_a_rule(api: Sandbox) -> None:
    big = batch(user_attributes={f"a{i}": "x" * 4000 for i in range(40)})  # 160 KB in a 256 KB request
    response = post(api, "/bulkevents", [VALID, big])
    assert response.status == 202
    assert "Path '[1]', rule: batch must be at most 131072 bytes." in response.json()["errors"][0]["message"]


def test_a_request_over_256_kib_is_413(api: Sandbox) -> None:
    response = post(api, "/bulkevents", b"[" + b" " * limits.MAX_REQUEST_BYTES + b"]")
    assert response.status == 413
    assert api.stats()["batches_accepted"] == 0


def test_more_than_100_batches_are_400(api: Sandbox) -> None:
    response = post(api, "/bulkevents", [{}] * (limits.MAX_BATCHES_PER_REQUEST + 1))
    assert response.status == 400
    assert "at most 100 batches" in response.json()["errors"][0]["message"]


def test_a_repeated_source_request_id_is_acknowledged_but_not_recorded(api: Sandbox) -> None:
    once = batch(source_request_id="sqs-message-1")
    assert post(api, "/events", once).status == 202
    assert post(api, "/bulkevents", [once, batch(source_request_id="sqs-message-2")]).status == 202
    assert [b["source_request_id"] for b in api.accepted_batches()] == ["sqs-message-1", "sqs-message-2"]
    stats = api.stats()
    assert (stats["deduplicated"], stats["unique_source_request_ids"]) == (1, 2)


def test_rate_is_counted_in_batches() -> None:
    with sandbox(rate=5) as api:
        assert post(api, "/bulkevents", [VALID] * 5).status == 202
        response = post(api, "/events", VALID)
        assert response.status == 429
        assert int(response.headers["Retry-After"]) >= 1
        assert response.headers["X-mp-rate-limit-exceeded"] == "account"
        assert api.stats()["rate_limited"] == 1


@pytest.mark.parametrize(("setting", "status"), [("p503", 503), ("p500", 500), ("p429", 429)])
def test_injected_errors_answer_before_anything_is_recorded(setting: str, status: int) -> None:
    with sandbox(**{setting: 1.0}) as api:
        response = post(api, "/events", VALID)
        assert response.status == status
        if status == 429:
            assert int(response.headers["Retry-After"]) >= 1
        assert api.accepted_batches() == []
        assert api.stats()["faults"][str(status)] == 1


def test_an_injected_reset_drops_the_connection_before_processing() -> None:
    with sandbox(p_reset=1.0) as api:
        with pytest.raises(ProtocolError) as caught:
            post(api, "/events", VALID)
        assert isinstance(caught.value.args[1], ConnectionResetError)
        assert api.accepted_batches() == []


def test_a_reset_after_accept_keeps_the_batch_so_a_retry_is_a_duplicate() -> None:
    with sandbox(p_reset_after_accept=1.0) as api:
        with pytest.raises(ProtocolError):
            post(api, "/events", batch(source_request_id="r1"))
        assert len(api.accepted_batches()) == 1
        with pytest.raises(ProtocolError):
            post(api, "/events", batch(source_request_id="r1"))
        assert api.stats()["deduplicated"] == 1


@pytest.mark.parametrize("settings", [{"latency": 0.3}, {"p_slow": 1.0, "slow_seconds": 0.3}])
def test_latency_delays_the_answer(settings: dict[str, float]) -> None:
    with sandbox(**settings) as api:
        began = time.monotonic()
        assert post(api, "/events", VALID).status == 202
        assert time.monotonic() - began >= 0.3


def test_an_outage_window_answers_503_then_recovers() -> None:
    with sandbox(outages=(parse_outage("0-1"),)) as api:
        assert post(api, "/events", VALID).status == 503
        time.sleep(1.05)
        assert post(api, "/events", VALID).status == 202
        assert api.stats()["faults"]["outage"] == 1


def test_stats_endpoint_counts_and_reset_clears(api: Sandbox) -> None:
    post(api, "/events", VALID)
    post(api, "/events", VALID, auth=None)
    base = api.url.removesuffix("/v2")
    stats = HTTP.request("GET", base + "/_sandbox/stats").json()
    assert stats["requests"] == 2 and stats["batches_accepted"] == 1
    assert stats["by_status"] == {"202": 1, "401": 1}
    assert HTTP.request("POST", base + "/_sandbox/reset").status == 204
    assert api.stats()["requests"] == 0 and api.accepted_batches() == []


def test_posted_credentials_replace_the_accepted_ones(api: Sandbox) -> None:
    """A rotation staged while it runs: the old key/secret get the wrong credentials' 403."""
    base = api.url.removesuffix("/v2")
    rotated = {"api_key": "rotated-key", "api_secret": "rotated-secret"}
    assert HTTP.request("POST", base + "/_sandbox/credentials", json=rotated).status == 204
    refused = post(api, "/events", VALID)
    assert refused.status == 403
    assert refused.json()["errors"][0]["message"] == "invalid credentials"
    assert post(api, "/events", VALID, auth="rotated-key:rotated-secret").status == 202
    assert post(api, "/events", VALID, auth=None).status == 401, "none sent is still 401"
    assert [b["environment"] for b in api.accepted_batches()] == ["development"]


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[]", b'{"api_key": "k"}', b'{"api_key": "k", "api_secret": ""}']
)
def test_credentials_must_be_a_key_and_a_secret(api: Sandbox, body: bytes) -> None:
    response = HTTP.request("POST", api.url.removesuffix("/v2") + "/_sandbox/credentials", body=body)
    assert response.status == 400
    assert post(api, "/events", VALID).status == 202, "the credentials are unchanged"


def test_unknown_paths_are_404_and_other_methods_405(api: Sandbox) -> None:
    assert post(api, "/nope", VALID).status == 404
    response = HTTP.request("GET", api.url + "/events")
    assert (response.status, response.headers["Allow"]) == (405, "POST")


def test_accepted_batches_are_recorded_as_json_lines(tmp_path: Path) -> None:
    record = tmp_path / "sent.jsonl"
    with sandbox(record_path=record) as api:
        post(api, "/bulkevents", json.dumps([VALID], indent=2).encode())  # line breaks must not leak
        post(api, "/events", batch(environment="staging"))
    [line] = record.read_text().splitlines()
    entry = json.loads(line, parse_float=Decimal)
    assert entry["endpoint"] == "/v2/bulkevents" and entry["received_at"]
    assert entry["batch"]["events"][0]["data"]["custom_attributes"]["amount"] == Decimal("19.99")


def test_numbers_arrive_exactly_as_sent(api: Sandbox) -> None:
    text = json.dumps(VALID).replace("19.99", "19.990000000000000000001").encode()
    assert post(api, "/events", text).status == 202
    [received] = api.accepted_batches()
    assert received["events"][0]["data"]["custom_attributes"]["amount"] == Decimal("19.990000000000000000001")
    assert post(api, "/events", json.dumps(VALID).encode()).status == 202
    assert api.accepted_batches()[1]["events"][0]["data"]["custom_attributes"]["amount"] == Decimal("19.99")


def test_the_rate_limit_models_reach_the_wire() -> None:
    """The header as each model computes it, the limit a 429 names, and another sender's share."""
    with sandbox(rate=10, usage=Usage.BUCKET) as bucket:
        answer = post(bucket, "/events", VALID)
        assert answer.headers["X-mp-rate-limit-percentage-used"] == "10", "one of ten tokens spent"
    with sandbox(rate=10, usage=Usage.NONE) as silent:
        assert "X-mp-rate-limit-percentage-used" not in post(silent, "/events", VALID).headers
    with sandbox(rate=4, acceleration=2.0) as accelerating:
        assert post(accelerating, "/events", VALID).status == 202, "a quarter of the rate from idle"
        throttled = post(accelerating, "/events", VALID)
        assert throttled.status == 429
        assert throttled.headers["X-mp-rate-limit-exceeded"] == "acceleration"


def test_another_sender_takes_its_share_and_counts_its_429s() -> None:
    with sandbox(rate=200, other_share=0.5) as api:
        time.sleep(1.0)
        other = api.stats()["other_sender"]
    assert 50 <= other["batches_accepted"] <= 150, "about 100 batches a second"
    assert other["rate_limited"] == 0
    assert sum(second.get("other_accepted", 0) for second in api.stats()["series"].values()) > 0


def test_the_command_line_serves_until_interrupted() -> None:
    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (root, root / "layers" / "forwarder")))}
    command = [sys.executable, "-m", "devstack.sandbox", "--port", "0", "--quiet", "--rate", "0"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            found = re.search(r"http://\S+/v2", process.stdout.readline())
            assert found is not None
            headers = urllib3.make_headers(basic_auth="sandbox-key:sandbox-secret")
            assert HTTP.request("POST", found[0] + "/events", json=VALID, headers=headers).status == 202
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=5) == 0
        finally:
            process.kill()
