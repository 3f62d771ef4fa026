"""The in-process function's log lines in CloudWatch Logs (moto's), where Lambda would put them.

Lambda ships what a function writes to /aws/lambda/{FunctionName}; the local stack runs the handler in
this process, so this handler does the shipping. Tools that read a deployed function's logs
(`make send-test`, `make logs`: ops/) then read the local function's the same way, through the same API.
"""

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from devstack.function import SERVICE_NAME
from devstack.service import Service
from ops.logs import log_group_name

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient


class FunctionLogs(Service):
    """Copies the function's log records, formatted as the function writes them to stdout."""

    def __init__(self, logs: "CloudWatchLogsClient", function_name: str, service: str = SERVICE_NAME) -> None:
        self.group = log_group_name(function_name)
        self.stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._logs = logs
        self._handler = _Shipper(logging.getLogger(service), self.put)

    def start(self) -> None:
        existing = self._logs.describe_log_groups(logGroupNamePrefix=self.group)["logGroups"]
        if not any(group["logGroupName"] == self.group for group in existing):
            self._logs.create_log_group(logGroupName=self.group)
        self._logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        # On the root logger: every record of the function's loggers reaches it (see _Shipper.filter).
        logging.getLogger().addHandler(self._handler)

    def stop(self) -> None:
        logging.getLogger().removeHandler(self._handler)

    def put(self, message: str) -> None:
        self._logs.put_log_events(
            logGroupName=self.group,
            logStreamName=self.stream,
            logEvents=[{"timestamp": time.time_ns() // 1_000_000, "message": message}],
        )


class _Shipper(logging.Handler):
    def __init__(self, service: logging.Logger, put: Callable[[str], None]) -> None:
        super().__init__()
        self._service, self._put = service, put

    def filter(self, record: logging.LogRecord) -> bool:
        # Powertools names a child logger "{service}.{module}" with the service name known when the
        # module was imported; in a test process that may be "service_undefined", so match the package.
        name = record.name
        service = self._service.name
        return name == service or name.startswith(f"{service}.") or ".rokt_forwarder." in f".{name}"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # The Powertools handler's formatter gives the JSON line the function writes to stdout.
            powertools = getattr(self._service, "powertools_handler", None)
            formatter = getattr(powertools, "formatter", None) or logging.Formatter()
            self._put(formatter.format(record))
        except Exception:
            self.handleError(record)
