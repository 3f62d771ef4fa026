"""secret.py on its own: what a valid secret is, how Secrets Manager's answer is read, and how a failed
read is repeated and then retried past every cache (`Recovering`).

The AWS side is a stand-in for Powertools' SecretsProvider; tests/integration/test_secret.py reads a
real (moto) Secrets Manager and the extension over HTTP.
"""

import json
import math
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from rokt_forwarder.adapters.secret import (
    CACHE_SECONDS,
    EXTENSION_PORT_VARIABLE,
    RETRY_SECONDS,
    ExtensionReader,
    Recovering,
    SecretsManagerReader,
    open_secret,
)
from rokt_forwarder.errors import CredentialsError, DeadlineError
from rokt_forwarder.ports import Credentials

GOOD = json.dumps({"api_key": "the-key", "api_secret": "the-secret"})


class Provider:
    """Powertools' SecretsProvider as the reader uses it: get(name, max_age, force_fetch)."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.asked: list[dict[str, Any]] = []

    def get(self, name: str, max_age: int, force_fetch: bool) -> object:
        self.asked.append({"name": name, "max_age": max_age, "force_fetch": force_fetch})
        answer = self.answers[min(len(self.asked), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def reader(*answers: object) -> tuple[SecretsManagerReader, Provider]:
    provider = Provider(*answers)
    return SecretsManagerReader("prod/rokt", provider=provider), provider  # type: ignore[arg-type]


def test_a_valid_secret_gives_its_key_and_secret_and_never_shows_them() -> None:
    read, provider = reader(GOOD)
    credentials = read(False, math.inf)
    assert credentials == Credentials("the-key", "the-secret")
    assert "the-key" not in repr(credentials) and "the-secret" not in repr(credentials)
    assert provider.asked == [{"name": "prod/rokt", "max_age": CACHE_SECONDS, "force_fetch": False}]


def test_a_refresh_fetches_past_the_cache() -> None:
    read, provider = reader(GOOD)
    read(True, math.inf)
    assert provider.asked[0]["force_fetch"] is True


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("not json", "is not a JSON object"),
        ('["the-key", "the-secret"]', "is not a JSON object"),
        (json.dumps({"api_key": "the-key", "apisecret": "the-secret"}), 'needs non-empty "api_key"'),
        (json.dumps({"api_key": "", "api_secret": "the-secret"}), 'needs non-empty "api_key"'),
        (json.dumps({"api_key": 12345, "api_secret": "the-secret"}), 'needs non-empty "api_key"'),
    ],
)
def test_a_malformed_secret_is_named_with_what_is_wrong_never_its_value(value: str, why: str) -> None:
    read, _ = reader(value)
    with pytest.raises(CredentialsError, match=why) as raised:
        read(False, math.inf)
    assert "the-key" not in str(raised.value) and "the-secret" not in str(raised.value)
    assert "prod/rokt" in str(raised.value)


def test_an_aws_error_is_named_by_its_code() -> None:
    unreadable = GetParameterError("An error occurred (ResourceNotFoundException)")
    # As Powertools raises it: without `from`, so the AWS error is the context.
    unreadable.__context__ = ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetSecretValue")
    read, _ = reader(unreadable)
    with pytest.raises(CredentialsError, match=r"cannot read secret prod/rokt: ResourceNotFoundException$"):
        read(False, math.inf)


def test_no_read_is_started_without_time_for_it() -> None:
    read, provider = reader(GOOD)
    with pytest.raises(DeadlineError):
        read(False, 1.0)
    assert provider.asked == []


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A reader whose answers the test sets: a CredentialsError, or credentials. Records each read."""

    def __init__(self, answer: Credentials | Exception) -> None:
        self.answer = answer
        self.reads: list[bool] = []  # the refresh flag of each read

    def __call__(self, refresh: bool, time_left: float) -> Credentials:
        self.reads.append(refresh)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


BROKEN = CredentialsError('secret s needs non-empty "api_key" and "api_secret"')


def test_a_failed_read_is_repeated_without_reading_until_the_retry_time() -> None:
    source, clock = Source(BROKEN), Clock()
    read = Recovering(source, clock)
    for _ in range(3):
        with pytest.raises(CredentialsError, match='needs non-empty "api_key"'):
            read(False, math.inf)
        clock.now += RETRY_SECONDS / 4
    assert source.reads == [False], "one read for the whole period, however many invocations"


def test_after_the_retry_time_a_fixed_secret_is_read_past_every_cache() -> None:
    source, clock = Source(BROKEN), Clock()
    read = Recovering(source, clock)
    with pytest.raises(CredentialsError):
        read(False, math.inf)
    source.answer = Credentials("fixed", "secret")
    clock.now += RETRY_SECONDS
    assert read(False, math.inf) == Credentials("fixed", "secret")
    assert source.reads == [False, True], "the second read is a forced one: no cache holds it back"
    read(False, math.inf)
    assert source.reads == [False, True, False], "once read, the cache serves again"


def test_a_secret_still_broken_at_the_retry_starts_another_period() -> None:
    source, clock = Source(BROKEN), Clock()
    read = Recovering(source, clock)
    with pytest.raises(CredentialsError):
        read(False, math.inf)
    clock.now += RETRY_SECONDS
    with pytest.raises(CredentialsError):
        read(False, math.inf)
    clock.now += RETRY_SECONDS / 2
    with pytest.raises(CredentialsError):
        read(False, math.inf)
    assert source.reads == [False, True]


def test_a_re_read_after_a_401_is_never_held_back() -> None:
    source, clock = Source(BROKEN), Clock()
    read = Recovering(source, clock)
    with pytest.raises(CredentialsError):
        read(False, math.inf)
    source.answer = Credentials("rotated", "secret")
    assert read(True, math.inf) == Credentials("rotated", "secret")


def test_a_read_not_started_for_want_of_time_is_not_a_failure_of_the_secret() -> None:
    source, clock = Source(DeadlineError("no time left")), Clock()
    read = Recovering(source, clock)
    with pytest.raises(DeadlineError):
        read(False, 1.0)
    source.answer = Credentials("k", "s")
    assert read(False, math.inf) == Credentials("k", "s")
    assert source.reads == [False, False]


def test_the_retry_comes_no_later_than_the_soonest_retry_of_a_failed_record() -> None:
    from rokt_forwarder.outcome import RETRY_BASE_SECONDS  # noqa: PLC0415 - the one place they meet

    assert RETRY_SECONDS <= RETRY_BASE_SECONDS / 2


def test_the_extension_is_used_only_where_the_template_configured_it() -> None:
    extension = open_secret("s", {EXTENSION_PORT_VARIABLE: "2773"})
    direct = open_secret("s", {})
    assert isinstance(extension, Recovering) and isinstance(extension.reader, ExtensionReader)
    assert isinstance(direct, Recovering) and isinstance(direct.reader, SecretsManagerReader)
