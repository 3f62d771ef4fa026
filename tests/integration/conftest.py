"""Fixtures of the integration tests: the embedded AWS stack, as template.yaml defines it."""

from collections.abc import Iterator
from dataclasses import replace

import pytest
from support import API_KEY, API_SECRET, ROOT

from devstack.embedded_aws import EmbeddedAws
from devstack.sandbox import Sandbox, SandboxConfig
from devstack.template import StackSettings


@pytest.fixture
def aws() -> Iterator[EmbeddedAws]:
    """A fresh stack per test (moto refuses a second PurgeQueue within 60 s), visibility 30 s."""
    settings = StackSettings.from_template(ROOT / "template.yaml")
    with EmbeddedAws(replace(settings, queue_visibility_timeout=30), API_KEY, API_SECRET) as stack:
        yield stack


@pytest.fixture
def aws_env(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> EmbeddedAws:
    """The stack, found through boto3's standard settings (AWS_*), as a tool finds a real account."""
    for name, value in aws.environment().items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return aws


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The Event API, knowing the account's key and secret (the ones in the stack's secret)."""
    with Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api:
        yield api
