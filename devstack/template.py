"""The SAM template as the single source of the queue and event source mapping settings.

The local stack reads them from template.yaml instead of repeating them, so what runs locally is what
gets deployed.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import yaml

# AWS defaults for properties a template may leave out.
_SQS_VISIBILITY_TIMEOUT = 30
_SQS_RETENTION_SECONDS = 345_600
_LAMBDA_TIMEOUT_SECONDS = 3
_LAMBDA_MEMORY_MB = 128
_ESM_BATCH_SIZE = 10
_ESM_BATCHING_WINDOW_SECONDS = 0
# Without ScalingConfig, Lambda starts with five concurrent batches on a standard queue.
_ESM_CONCURRENCY = 5

# Tags whose long form is Fn::<Tag>; !Ref and !Condition keep their name.
_FUNCTIONS: tuple[str, ...] = ("GetAtt", "Sub", "If", "Equals", "Not", "And", "Or", "Select", "Join", "Split")
_FUNCTIONS += ("FindInMap", "Base64", "ImportValue", "GetAZs", "Cidr")
_SHORT_TAGS = {"Ref": "Ref", "Condition": "Condition"} | {name: f"Fn::{name}" for name in _FUNCTIONS}


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (!Ref, !GetAtt, ...) as their long forms."""


def _intrinsic(key: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if key == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)  # "Queue.Arn" is the short form of [Queue, Arn]
        return {key: value}

    return construct


for _tag, _key in _SHORT_TAGS.items():
    CfnLoader.add_constructor(f"!{_tag}", _intrinsic(_key))


def load_template(path: str | Path) -> dict[str, Any]:
    """The template as plain data, intrinsics in long form: yaml.safe_load rejects the short tags."""
    with Path(path).open(encoding="utf-8") as stream:
        template = yaml.load(stream, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    if not isinstance(template, dict):
        raise ValueError(f"{path}: not a CloudFormation template")
    return template


@dataclass(frozen=True, slots=True)
class StackSettings:
    """The deployed queue and event source mapping settings that the local stack must reproduce."""

    queue_visibility_timeout: int
    queue_retention_seconds: int
    dlq_retention_seconds: int
    max_receive_count: int
    function_timeout_seconds: int
    function_memory_mb: int
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int
    fifo: bool

    @classmethod
    def from_template(cls, path: str | Path, overrides: Mapping[str, str] | None = None) -> Self:
        """Read the settings, taking parameters from overrides (as `sam deploy` would) or their Default."""
        template = load_template(path)
        values = _Resolver(template.get("Parameters", {}), overrides or {})
        resources = template["Resources"]
        queue = resources["ConversionsQueue"].get("Properties", {})
        dlq = resources["DeadLetterQueue"].get("Properties", {})
        function = resources["ForwarderFunction"].get("Properties", {})
        globals_ = template.get("Globals", {}).get("Function", {})
        mapping = _sqs_event(function)
        redrive = queue.get("RedrivePolicy")
        if not redrive:
            raise ValueError(
                "ConversionsQueue has no RedrivePolicy: failing messages would never reach the DLQ"
            )
        return cls(
            queue_visibility_timeout=values.int(queue.get("VisibilityTimeout", _SQS_VISIBILITY_TIMEOUT)),
            queue_retention_seconds=values.int(queue.get("MessageRetentionPeriod", _SQS_RETENTION_SECONDS)),
            dlq_retention_seconds=values.int(dlq.get("MessageRetentionPeriod", _SQS_RETENTION_SECONDS)),
            max_receive_count=values.int(redrive["maxReceiveCount"]),
            function_timeout_seconds=values.int(
                function.get("Timeout", globals_.get("Timeout", _LAMBDA_TIMEOUT_SECONDS))
            ),
            function_memory_mb=values.int(
                function.get("MemorySize", globals_.get("MemorySize", _LAMBDA_MEMORY_MB))
            ),
            batch_size=values.int(mapping.get("BatchSize", _ESM_BATCH_SIZE)),
            batching_window_seconds=values.int(
                mapping.get("MaximumBatchingWindowInSeconds", _ESM_BATCHING_WINDOW_SECONDS)
            ),
            max_concurrency=values.int(
                mapping.get("ScalingConfig", {}).get("MaximumConcurrency", _ESM_CONCURRENCY)
            ),
            fifo=str(values.value(queue.get("FifoQueue", False))).lower() == "true",
        )


def _sqs_event(function: Mapping[str, Any]) -> Mapping[str, Any]:
    events = [event for event in function.get("Events", {}).values() if event.get("Type") == "SQS"]
    if len(events) != 1:
        raise ValueError(f"ForwarderFunction needs exactly one SQS event, found {len(events)}")
    properties: Mapping[str, Any] = events[0].get("Properties", {})
    return properties


class _Resolver:
    """Resolves {"Ref": Parameter}; any other intrinsic needs CloudFormation and is refused."""

    def __init__(self, parameters: Mapping[str, Any], overrides: Mapping[str, str]) -> None:
        unknown = set(overrides) - set(parameters)
        if unknown:
            raise ValueError(f"unknown template parameters: {', '.join(sorted(unknown))}")
        self._parameters = parameters
        self._overrides = overrides

    def value(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        name = node.get("Ref")
        if len(node) != 1 or not isinstance(name, str) or name not in self._parameters:
            raise ValueError(f"cannot resolve {node!r} locally: only a Ref to a parameter is supported")
        if name in self._overrides:
            return self._overrides[name]
        if "Default" not in self._parameters[name]:
            raise ValueError(f"parameter {name} has no Default: pass it in overrides")
        return self._parameters[name]["Default"]

    def int(self, node: Any) -> int:
        return int(self.value(node))
