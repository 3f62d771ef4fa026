"""`make check-credentials` against the sandbox (the Event API) and moto (the secret), over real HTTP.

Each situation gets its own one-line answer; none of them ingests anything.
"""

import json
from collections.abc import Iterator, Mapping

import pytest
from hostile import Hostile, refusing_port, reply
from literals import UNKNOWN_SECRET_ARN
from support import API_KEY

from devstack.embedded_aws import EmbeddedAws
from devstack.sandbox import Sandbox, SandboxConfig
from ops import check_credentials
from ops.check_credentials import Api

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
def other_account() -> Iterator[Sandbox]:
    """A pod where this account does not live: it knows other credentials."""
    with Sandbox(SandboxConfig(api_key="someone-else", api_secret="their-secret")) as sandbox:
        yield sandbox


def answer(
    argv: list[str], capsys: pytest.CaptureFixture[str], pods: Mapping[str, Api] | None = None
) -> tuple[int, str]:
    status = check_credentials.main(argv, pods)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, "one line"
    return status, out.rstrip("\n")


def test_the_right_key_is_accepted_and_nothing_is_ingested(
    aws: EmbeddedAws, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    status, line = answer(["--secret-id", aws.secret_arn, "--api-url", sandbox.url], capsys)
    assert (status, line) == (0, f"OK: key/secret accepted by {sandbox.url}; nothing was ingested")
    stats = sandbox.stats()
    assert stats["batches_accepted"] == 0
    # Ours (400: nothing to ingest, after authentication) and the made-up control (403).
    assert stats["by_status"] == {"400": 1, "403": 1}


def test_a_wrong_key_is_refused_with_what_to_do(
    aws: EmbeddedAws, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arn, SecretString=json.dumps({"api_key": API_KEY, "api_secret": "not-it-8c1f"})
    )
    status, line = answer(["--secret-id", aws.secret_arn, "--api-url", sandbox.url], capsys)
    assert status == 1
    assert line.startswith(
        f"REFUSED: the key/secret in {aws.secret_arn} was refused (403) by {sandbox.url}: "
    )
    assert "aws secretsmanager put-secret-value" in line
    assert "not-it-8c1f" not in line, "never the secret"


def test_the_wrong_pod_names_the_pod_that_accepts_the_key(
    aws: EmbeddedAws, sandbox: Sandbox, other_account: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with refusing_port() as port:
        pods = {
            "us1": Api(other_account.url, "us1"),
            "us2": Api(f"http://127.0.0.1:{port}/v2", "us2"),
            "eu1": Api(sandbox.url, "eu1"),
            "au1": Api(other_account.url, "au1"),
        }
        status, line = answer(["--secret-id", aws.secret_arn, "--pod", "us1"], capsys, pods=pods)
    assert (status, line) == (
        1,
        f"WRONG POD: the key/secret in {aws.secret_arn} was refused (403) by pod us1 but accepted by "
        "pod eu1: use RoktPod=eu1 (make deploy asks for it), and --pod eu1",
    )


def test_a_key_refused_by_every_pod_says_so(
    aws: EmbeddedAws, other_account: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    pods = {pod: Api(other_account.url, pod) for pod in ("us1", "us2", "eu1", "au1")}
    status, line = answer(["--secret-id", aws.secret_arn, "--pod", "eu1"], capsys, pods=pods)
    assert status == 1
    assert line.startswith(
        f"REFUSED: the key/secret in {aws.secret_arn} was refused (403) by pod eu1, and by pod us1, pod us2, "
        "pod au1: "
    )


def test_an_unreachable_api(aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    with refusing_port() as port:
        url = f"http://127.0.0.1:{port}/v2"
        status, line = answer(["--secret-id", aws.secret_arn, "--api-url", url], capsys)
    assert status == 1
    assert line.startswith(f"UNREACHABLE: {url} could not be reached (")


def test_a_url_that_is_not_the_event_api(
    aws: EmbeddedAws, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sandbox.url.removesuffix("/v2") + "/s2s/v2"
    status, line = answer(["--secret-id", aws.secret_arn, "--api-url", url], capsys)
    assert status == 1
    assert line.startswith(f"WRONG URL: {url} answered 404 to POST /bulkevents: ")


def test_a_secret_that_does_not_exist(
    aws: EmbeddedAws, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    status, line = answer(["--secret-id", UNKNOWN_SECRET_ARN, "--api-url", sandbox.url], capsys)
    assert status == 1
    assert line.startswith(f"SECRET: cannot read secret {UNKNOWN_SECRET_ARN}: ResourceNotFoundException: ")
    assert sandbox.stats()["requests"] == 0


def test_an_api_that_does_not_check_credentials_is_not_taken_for_a_yes(
    aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hostile([reply(400)]) as server:  # whatever the key/secret
        url = f"{server.url}/v2"
        status, line = answer(["--secret-id", aws.secret_arn, "--api-url", url], capsys)
    assert status == 1
    assert line.startswith(f"UNSURE: {url} answered 400 to a made-up key/secret too")
