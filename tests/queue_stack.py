"""The template's two queues as a CloudFormation stack moto can run (moto cannot run the SAM transform,
Lambda aliases or CloudWatch alarms): what the lifecycle tests deploy, change and delete."""

import copy
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from support import ROOT

from devstack.template import load_template

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

QUEUES = ("ConversionsQueue", "DeadLetterQueue")


def queue_template(*, retained: bool = True) -> dict[str, Any]:
    """The queues exactly as template.yaml has them; retained=False: as before 0.1.0 (no Retain)."""
    template = load_template(ROOT / "template.yaml")
    resources = {name: copy.deepcopy(template["Resources"][name]) for name in QUEUES}
    if not retained:
        for resource in resources.values():
            resource.pop("DeletionPolicy")
            resource.pop("UpdateReplacePolicy")
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {name: template["Parameters"][name] for name in ("MaxReceiveCount", "KmsKeyArn")},
        "Conditions": {"UseQueueKey": template["Conditions"]["UseQueueKey"]},
        "Resources": resources,
    }


def renamed(template: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The template with a resource's logical id changed: CloudFormation removes `old`, adds `new`."""
    changed = copy.deepcopy(template)
    changed["Resources"][new] = changed["Resources"].pop(old)
    text = json.dumps(changed).replace(f'"{old}"', f'"{new}"')
    result: dict[str, Any] = json.loads(text)
    return result


def change_set(cloudformation: "CloudFormationClient", stack: str, template: dict[str, Any]) -> datetime:
    """Create the change set `sam deploy --no-execute-changeset` would; returns when it started."""
    since = datetime.now(UTC)
    exists = any(
        s["StackName"] == stack
        for s in cloudformation.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    )
    cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=f"samcli-deploy{since.timestamp():.0f}",
        ChangeSetType="UPDATE" if exists else "CREATE",
        TemplateBody=json.dumps(template),
    )
    return since


def queue_urls(cloudformation: "CloudFormationClient", stack: str) -> dict[str, str]:
    resources = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources}
