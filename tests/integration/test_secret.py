"""secret readers: the Lambda extension's local endpoint over real HTTP, and Secrets Manager in moto;
and a secret fixed while a warm container runs, through the handler."""

import json
import math
import time

import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from hostile import Hostile, refusing_port, reply
from support import API_KEY, API_SECRET, invoke, lambda_handler, receive_event, send

from devstack.embedded_aws import EmbeddedAws
from devstack.sandbox import Sandbox, SandboxConfig
from rokt_forwarder.adapters import secret
from rokt_forwarder.adapters.secret import ExtensionReader, SecretsManagerReader
from rokt_forwarder.errors import CredentialsError, DeadlineError
from rokt_forwarder.ports import Credentials

SECRET = {"SecretString": json.dumps({"api_key": "k", "api_secret": "s"}), "Name": "rokt-event-api"}


def port_of(server: Hostile) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_the_extension_is_asked_with_the_session_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    with Hostile([reply(200, SECRET)]) as extension:
        read = ExtensionReader(
            "prod/rokt api", port_of(extension), secrets_manager=lambda r, t: Credentials("x", "y")
        )
        assert read(False, math.inf) == Credentials("k", "s")
    request = extension.requests[0].decode()
    assert request.startswith("GET /secretsmanager/get?secretId=prod%2Frokt%20api HTTP/1.1")
    assert "x-aws-parameters-secrets-token: session-token" in request.lower()


def test_a_re_read_after_a_rotation_skips_the_extension_s_cache() -> None:
    with Hostile([reply(200, SECRET)]) as extension:
        read = ExtensionReader(
            "s", port_of(extension), secrets_manager=lambda r, t: Credentials("new", "new")
        )
        assert read(True, math.inf) == Credentials("new", "new")
    assert extension.requests == []


@pytest.mark.parametrize(
    ("answer", "why"),
    [(reply(400, {"error": "AccessDenied"}), "answered 400"), (reply(200, b"<html>"), "not JSON")],
)
def test_an_extension_error_says_what_went_wrong_and_never_the_value(answer: object, why: str) -> None:
    with Hostile([answer]) as extension:  # type: ignore[list-item]
        read = ExtensionReader("s", port_of(extension), secrets_manager=lambda r, t: Credentials("x", "y"))
        with pytest.raises(CredentialsError, match=why):
            read(False, math.inf)


def test_secrets_manager_reader_against_moto(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in aws.environment().items():
        monkeypatch.setenv(name, value)
    assert SecretsManagerReader(aws.secret_arn)(False, math.inf).api_key == "test-key"
    aws.client("secretsmanager").put_secret_value(SecretId=aws.secret_arn, SecretString="not json")
    with pytest.raises(CredentialsError, match="not a JSON object"):
        SecretsManagerReader(aws.secret_arn)(True, math.inf)


def test_an_extension_that_cannot_be_reached_is_replaced_by_secrets_manager() -> None:
    asked: list[float] = []

    def secrets_manager(refresh: bool, time_left: float) -> Credentials:
        asked.append(time_left)
        return Credentials("from", "secrets-manager")

    with refusing_port() as port:
        read = ExtensionReader("s", port, secrets_manager=secrets_manager)
        assert read(False, 20.0) == Credentials("from", "secrets-manager")
    assert asked and asked[0] <= 20.0


def test_no_time_left_means_no_read() -> None:
    read = ExtensionReader("s", 9, secrets_manager=lambda r, t: Credentials("x", "y"))
    with pytest.raises(DeadlineError):
        read(False, 0.0)
    never = SecretsManagerReader("s", provider=None)
    with pytest.raises(DeadlineError):
        never(False, 3.0)


def test_an_aws_error_is_named_by_its_code_even_without_a_botocore_class(aws: EmbeddedAws) -> None:
    client = aws.client("secretsmanager")

    def deny(**_: object) -> None:  # what AWS answers a role without secretsmanager:GetSecretValue
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetSecretValue")

    client.meta.events.register("before-call.secrets-manager.GetSecretValue", deny)
    reader = SecretsManagerReader(aws.secret_arn, provider=parameters.SecretsProvider(boto3_client=client))
    with pytest.raises(CredentialsError, match=r": AccessDeniedException$"):
        reader(False, math.inf)


def test_a_malformed_secret_fixed_in_secrets_manager_is_picked_up_by_the_warm_container(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The retry period shortened from 15 s so the test need not wait it out; the path is the deployed one.
    monkeypatch.setattr(secret, "RETRY_SECONDS", 1.0)
    secrets_manager = aws.client("secretsmanager")
    typo = json.dumps({"api_key": API_KEY, "apisecret": API_SECRET})
    secrets_manager.put_secret_value(SecretId=aws.secret_arn, SecretString=typo)
    conversion = {"email": "jane@example.com", "amount": 19.99, "currency": "USD"}
    config = SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)
    with (
        Sandbox(config) as sandbox,
        lambda_handler({**aws.environment(), "ROKT_API_URL": sandbox.url}) as handler,
    ):
        first = send(aws, [conversion])
        assert invoke(handler, receive_event(aws, 1)) == set(first), "failed for want of credentials"
        assert sandbox.stats()["requests"] == 0
        fixed = json.dumps({"api_key": API_KEY, "api_secret": API_SECRET})
        secrets_manager.put_secret_value(SecretId=aws.secret_arn, SecretString=fixed)
        time.sleep(secret.RETRY_SECONDS)
        send(aws, [{**conversion, "customerid": "c-2"}])
        assert invoke(handler, receive_event(aws, 1)) == set(), "the same container, the fixed secret"
        assert sandbox.stats()["batches_accepted"] == 1
