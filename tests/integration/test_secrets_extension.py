"""The Parameters and Secrets extension stand-in answers as GetSecretValue does, through moto over HTTP."""

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from support import API_KEY, API_SECRET, ROOT

from devstack.embedded_aws import EmbeddedAws
from devstack.secrets_extension import PATH, PORT_VARIABLE, TOKEN_HEADER, SecretsExtension
from devstack.template import StackSettings


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(StackSettings.from_template(ROOT / "template.yaml"), API_KEY, API_SECRET) as stack:
        yield stack


def get(extension: SecretsExtension, secret_id: str, token: str | None) -> tuple[int, dict[str, Any]]:
    query = urllib.parse.urlencode({"secretId": secret_id})
    request = urllib.request.Request(f"http://127.0.0.1:{extension.port}{PATH}?{query}")
    if token is not None:
        request.add_header(TOKEN_HEADER, token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_it_answers_what_get_secret_value_answers(aws: EmbeddedAws) -> None:
    client = aws.client("secretsmanager")
    with SecretsExtension(client) as extension:
        status, body = get(extension, aws.secret_arn, extension.token)
    direct = client.get_secret_value(SecretId=aws.secret_arn)
    assert status == 200
    assert json.loads(body["SecretString"]) == {"api_key": API_KEY, "api_secret": API_SECRET}
    assert {key: body[key] for key in ("ARN", "Name", "VersionId", "SecretString")} == {
        key: direct[key] for key in ("ARN", "Name", "VersionId", "SecretString")
    }
    assert body["CreatedDate"] == direct["CreatedDate"].timestamp()
    assert "ResponseMetadata" not in body


def test_it_tells_lambda_code_where_it_listens(aws: EmbeddedAws) -> None:
    with SecretsExtension(aws.client("secretsmanager"), token="t0k3n") as extension:
        assert extension.environment() == {PORT_VARIABLE: str(extension.port), "AWS_SESSION_TOKEN": "t0k3n"}


@pytest.mark.parametrize("token", [None, "", "another-session"])
def test_a_caller_without_the_session_token_gets_401(aws: EmbeddedAws, token: str | None) -> None:
    with SecretsExtension(aws.client("secretsmanager")) as extension:
        status, body = get(extension, aws.secret_arn, token)
        assert (status, extension.requests, extension.fetches) == (401, 0, 0)
    assert "SecretString" not in body


def test_an_unknown_secret_is_secrets_managers_error(aws: EmbeddedAws) -> None:
    with SecretsExtension(aws.client("secretsmanager")) as extension:
        status, body = get(extension, "no-such-secret", extension.token)
    # The status is Secrets Manager's own, passed on (moto says 404 where AWS says 400).
    assert 400 <= status < 500
    assert body["__type"] == "ResourceNotFoundException"


def test_the_cache_serves_the_old_value_until_its_ttl_ends(aws: EmbeddedAws) -> None:
    """As in Lambda: a rotated secret is seen through the extension only when the entry expires."""
    client = aws.client("secretsmanager")
    client.create_secret(Name="rotating", SecretString="v1")
    with (
        SecretsExtension(client) as cached,
        SecretsExtension(client, ttl_seconds=0) as uncached,
    ):
        assert get(cached, "rotating", cached.token)[1]["SecretString"] == "v1"
        assert get(uncached, "rotating", uncached.token)[1]["SecretString"] == "v1"
        client.put_secret_value(SecretId="rotating", SecretString="v2")
        assert get(cached, "rotating", cached.token)[1]["SecretString"] == "v1"
        assert get(uncached, "rotating", uncached.token)[1]["SecretString"] == "v2"
        assert (cached.requests, cached.fetches) == (2, 1)
        assert (uncached.requests, uncached.fetches) == (2, 2)
