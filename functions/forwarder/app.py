"""Lambda entry point: a thin adapter over rokt_forwarder (in the layer)."""

from typing import Any

from aws_lambda_powertools import Logger

from rokt_forwarder.adapters.tracing import traced
from rokt_forwarder.ports import LambdaContext
from rokt_forwarder.runtime import create

logger = Logger()
# At cold start: a bad setting fails initialisation once, with a message naming the variable.
forward = create()


@traced  # only with Tracing=Active (template.yaml)
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return forward(event, context)
