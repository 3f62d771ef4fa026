"""The change set `make deploy` reads before it runs: does it replace or remove a queue that holds messages?

Both queues are retained (DeletionPolicy/UpdateReplacePolicy Retain), so CloudFormation no longer
deletes their messages; but a replaced or removed queue leaves the stack, and nothing consumes what it
still holds. So `make deploy` refuses such a change set in one line, unless told to go ahead. A stack
created before the queues were retained still deletes them: the change set's PolicyAction says which.

CloudFormation's DescribeChangeSet, per ResourceChange: Action Add | Modify | Remove | Import | Dynamic;
for Modify, Replacement True | False | Conditional (may replace, decided at run time); PolicyAction
Delete | Retain | ReplaceAndDelete | ReplaceAndRetain | ... (what happens to the old resource).
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ops.queues import queue_depth

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ChangeTypeDef, StackEventTypeDef
    from mypy_boto3_sqs import SQSClient

QUEUE = "AWS::SQS::Queue"
ALLOW_FLAG = "--allow-queue-replacement"
RETAINED = {"Retain", "ReplaceAndRetain"}
# The change sets `sam deploy` creates are named samcli-deploy<timestamp>.
SAM_CHANGE_SET_PREFIX = "samcli-deploy"
# How far the clock of this machine may lag CloudFormation's when finding the change set just made.
CLOCK_SKEW = timedelta(minutes=5)
_DONE = ("_COMPLETE", "_FAILED")


@dataclass(frozen=True, slots=True)
class QueueChange:
    """A queue the change set replaces, may replace, or removes."""

    logical_id: str
    physical_id: str  # the queue's URL (empty when the change set does not say)
    what: str  # "replace", "possibly replace", "remove"
    retained: bool

    def described(self, messages: int | None, error: str = "") -> str:
        held = f"{messages} message{'s' if messages != 1 else ''}" if messages is not None else error
        fate = "kept outside the stack, unconsumed" if self.retained else "deleted with it"
        return f"{self.what} {self.logical_id} ({held}, {fate})"


def queue_changes(changes: Sequence["ChangeTypeDef"]) -> list[QueueChange]:
    """The queues the change set would take out of the stack; Add, Import and in-place Modify are safe."""
    found = []
    for change in changes:
        resource = change.get("ResourceChange", {})
        if change.get("Type", "Resource") != "Resource" or resource.get("ResourceType") != QUEUE:
            continue
        action, replacement = resource.get("Action"), resource.get("Replacement")
        if action == "Remove":
            what = "remove"
        elif action == "Modify" and replacement == "True":
            what = "replace"
        elif action == "Modify" and replacement == "Conditional":
            what = "possibly replace"
        else:
            continue
        found.append(
            QueueChange(
                logical_id=resource.get("LogicalResourceId", "?"),
                physical_id=resource.get("PhysicalResourceId", ""),
                what=what,
                # Without a PolicyAction, assume the worst: deleted.
                retained=resource.get("PolicyAction") in RETAINED,
            )
        )
    return found


type Depth = Callable[[str], int]


def verdict(queues: Sequence[QueueChange], depth: Depth, *, allowed: bool) -> str | None:
    """None to go ahead; else the one line that says what would happen to which messages.

    A queue whose depth cannot be read counts as holding messages: the check must not pass by failing.
    """
    at_risk = []
    for queue in queues:
        try:
            messages = depth(queue.physical_id) if queue.physical_id else None
            error = "" if messages is not None else "its URL unknown"
        except (BotoCoreError, ClientError) as failure:
            messages, error = None, f"depth unknown: {_code(failure)}"
        if messages != 0:
            at_risk.append(queue.described(messages, error))
    if not at_risk:
        return None
    items = " and ".join(at_risk)
    if allowed:
        return f"WARNING: this change set will {items}: going ahead ({ALLOW_FLAG})."
    return (
        f"REFUSED: this change set would {items}. Drain the queue first (docs/operations.md#upgrades), "
        f"or deploy anyway with ARGS={ALLOW_FLAG}."
    )


def _code(failure: BotoCoreError | ClientError) -> str:
    if isinstance(failure, ClientError):
        return str(failure.response.get("Error", {}).get("Code", "error"))
    return type(failure).__name__


def changes(cloudformation: "CloudFormationClient", change_set: str) -> list["ChangeTypeDef"]:
    """Every change of the change set (DescribeChangeSet pages them), each queue with its URL."""
    found: list[ChangeTypeDef] = []
    token: str | None = None
    while True:
        page = (
            cloudformation.describe_change_set(ChangeSetName=change_set, NextToken=token)
            if token
            else cloudformation.describe_change_set(ChangeSetName=change_set)
        )
        found += page.get("Changes", [])
        token = page.get("NextToken")
        if not token:
            break
    for change in found:  # moto, for one, leaves PhysicalResourceId out: ask the stack
        resource = change.get("ResourceChange", {})
        existing = resource.get("Action") in ("Modify", "Remove")
        if resource.get("ResourceType") == QUEUE and existing and not resource.get("PhysicalResourceId"):
            described = cloudformation.describe_stack_resource(
                StackName=page["StackId"], LogicalResourceId=resource.get("LogicalResourceId", "")
            )
            physical = described["StackResourceDetail"].get("PhysicalResourceId", "")
            change["ResourceChange"] = {**resource, "PhysicalResourceId": physical}
    return found


def review(
    cloudformation: "CloudFormationClient", sqs: "SQSClient", change_set: str, *, allowed: bool
) -> str | None:
    """verdict() of a created change set, queue depths read from SQS."""
    return verdict(
        queue_changes(changes(cloudformation, change_set)),
        lambda url: queue_depth(sqs, url),
        allowed=allowed,
    )


def latest_change_set(cloudformation: "CloudFormationClient", stack: str, since: datetime) -> str | None:
    """The change set `sam deploy --no-execute-changeset` just made for the stack, or None (no change)."""
    try:
        summaries = cloudformation.list_change_sets(StackName=stack).get("Summaries", [])
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    fresh = [
        s
        for s in summaries
        if s.get("ChangeSetName", "").startswith(SAM_CHANGE_SET_PREFIX)
        and s.get("ExecutionStatus") == "AVAILABLE"
        and s.get("CreationTime", datetime.min.replace(tzinfo=UTC)) >= since - CLOCK_SKEW
    ]
    newest = max(fresh, key=lambda s: s.get("CreationTime", since), default=None)
    return newest.get("ChangeSetId") if newest else None


def execute(
    cloudformation: "CloudFormationClient",
    change_set: str,
    stack: str,
    *,
    say: Callable[[str], None] = print,
    poll_seconds: float = 5.0,
) -> bool:
    """Execute the change set and follow the stack's events until it settles; True if it succeeded."""
    seen = {e["EventId"] for e in _events(cloudformation, stack)}  # earlier operations' events
    cloudformation.execute_change_set(ChangeSetName=change_set)
    while True:
        fresh = [e for e in _events(cloudformation, stack) if e["EventId"] not in seen]
        for event in sorted(fresh, key=lambda e: e["Timestamp"]):
            seen.add(event["EventId"])
            reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
            status, kind = event.get("ResourceStatus", ""), event.get("ResourceType", "")
            say(f"  {status:<28} {kind:<30} {event.get('LogicalResourceId', '')}{reason}")
        status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if status.endswith(_DONE):
            say(f"Stack {stack}: {status}")
            return status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
        time.sleep(poll_seconds)


def _events(cloudformation: "CloudFormationClient", stack: str) -> list["StackEventTypeDef"]:
    """The stack's recent events (the first page, newest first: enough between two polls)."""
    return cloudformation.describe_stack_events(StackName=stack).get("StackEvents", [])
