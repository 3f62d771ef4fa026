"""Fixtures of the integration tests that need the embedded stack."""

from collections.abc import Iterator
from dataclasses import replace

import pytest
from support import API_KEY, API_SECRET, ROOT

from devstack.aws import EmbeddedAws
from devstack.template import StackSettings


@pytest.fixture
def stack() -> Iterator[EmbeddedAws]:
    """A fresh embedded stack (moto server: the template's queue, DLQ and secret) per test."""
    settings = StackSettings.from_template(ROOT / "template.yaml")
    with EmbeddedAws(replace(settings, queue_visibility_timeout=30), API_KEY, API_SECRET) as aws:
        yield aws
