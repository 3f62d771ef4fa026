"""Fixtures of the integration tests: the embedded AWS stack, as template.yaml defines it."""

from collections.abc import Iterator
from dataclasses import replace

import pytest
from support import API_KEY, API_SECRET, ROOT

from devstack.aws import EmbeddedAws
from devstack.template import StackSettings


@pytest.fixture
def aws() -> Iterator[EmbeddedAws]:
    """A fresh stack per test (moto refuses a second PurgeQueue within 60 s), visibility 30 s."""
    settings = StackSettings.from_template(ROOT / "template.yaml")
    with EmbeddedAws(replace(settings, queue_visibility_timeout=30), API_KEY, API_SECRET) as stack:
        yield stack
