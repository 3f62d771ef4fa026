"""The benchmark's baselines really deliver: what `make bench` compares us with is a working forwarder."""

from collections.abc import Iterator

import pytest
from support import ROOT

from bench import events
from bench.baselines import NaiveForwarder, SdkForwarder, source_request_id
from devstack.context import LocalContext
from devstack.embedded_aws import EmbeddedAws
from devstack.sandbox import Sandbox, SandboxConfig
from devstack.template import StackSettings

API = SandboxConfig(rate=0, seed=5)
RECORDS = 120  # two SDK chunks


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    settings = StackSettings.from_template(ROOT / "template.yaml")
    with EmbeddedAws(settings, API.api_key, API.api_secret) as stack:
        yield stack


@pytest.mark.parametrize("forwarder", [SdkForwarder, NaiveForwarder])
def test_every_record_of_the_demo_mix_is_accepted_by_the_api(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch, forwarder: type[SdkForwarder | NaiveForwarder]
) -> None:
    event = events.sqs_event(events.bodies(RECORDS), RECORDS)
    with Sandbox(API) as sandbox:
        for name, value in {**aws.environment(), "ROKT_API_URL": sandbox.url}.items():
            monkeypatch.setenv(name, value)
        response = forwarder.from_env()(event, LocalContext.lasting(30))
        accepted = sandbox.accepted_batches()
        stats = sandbox.stats()
    assert response == {"batchItemFailures": []}
    assert stats["batches_refused"] == 0
    sent = {batch["source_request_id"] for batch in accepted}
    assert sent == {source_request_id(record["messageId"]) for record in event["Records"]}
    assert stats["requests"] == (2 if forwarder is SdkForwarder else RECORDS)


@pytest.mark.parametrize("forwarder", [SdkForwarder, NaiveForwarder])
def test_records_the_api_did_not_take_are_reported_failed(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch, forwarder: type[SdkForwarder | NaiveForwarder]
) -> None:
    event = events.sqs_event(events.bodies(5), 5)
    with Sandbox(SandboxConfig(rate=0, p503=1.0)) as sandbox:
        for name, value in {**aws.environment(), "ROKT_API_URL": sandbox.url}.items():
            monkeypatch.setenv(name, value)
        response = forwarder.from_env()(event, LocalContext.lasting(30))
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed == [record["messageId"] for record in event["Records"]]
