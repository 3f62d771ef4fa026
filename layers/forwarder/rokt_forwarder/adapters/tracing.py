"""AWS X-Ray tracing, opt-in (template parameter Tracing): off, it costs nothing at cold start.

Creating a Powertools Tracer imports the X-Ray SDK (hundreds of milliseconds) even when tracing is
disabled, so the Tracer is created only when POWERTOOLS_TRACE_DISABLED is "false", as the template
sets it with Tracing=Active; the SDK then comes from the template's TracingLayer.
"""

import os

from rokt_forwarder.ports import Handler


def enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() == "false"


def traced(handler: Handler) -> Handler:
    """The handler as a traced subsegment when tracing is on, else the handler itself."""
    if not enabled():
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - the X-Ray SDK only when tracing is on

    # The SQS client and http.client (under urllib3, so every Event API request) become subsegments.
    tracer = Tracer(patch_modules=("botocore", "httplib"))
    # The response holds message ids only, but batches can be large: keep traces small.
    wrapped: Handler = tracer.capture_lambda_handler(handler, capture_response=False)
    return wrapped
