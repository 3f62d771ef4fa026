"""What the AWS Serverless Application Repository (SAR) needs and shows: the application metadata, the
resource types it supports, the capabilities a user acknowledges, and the parameters' form.

The resource types are checked after the real SAM transform (samtranslator, as CloudFormation runs
it), so the types SAM generates (versions, aliases, event source mappings) are checked too.
"""

import os
import re
from typing import Any
from unittest import mock

import pytest
from literals import ROOT
from samtranslator.translator.transform import transform

from devstack.template import load_template

README = (ROOT / "README.md").read_text()

# From https://docs.aws.amazon.com/serverlessrepo/latest/devguide/list-supported-resources.html, the
# families this template could plausibly use. AWS::IAM::RolePolicy is NOT on the list (so the role's
# optional grants are conditional inline policies).
SAR_SUPPORTED = {
    *("AWS::CloudWatch::Alarm", "AWS::CloudWatch::AnomalyDetector", "AWS::CloudWatch::Dashboard"),
    *("AWS::CloudWatch::InsightRule", "AWS::Events::EventBusPolicy", "AWS::Events::Rule"),
    *("AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"),
    *("AWS::IAM::Role", "AWS::KMS::Alias", "AWS::KMS::Key"),
    *("AWS::Lambda::Alias", "AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping"),
    *("AWS::Lambda::Function", "AWS::Lambda::LayerVersion", "AWS::Lambda::LayerVersionPermission"),
    *("AWS::Lambda::Permission", "AWS::Lambda::Version"),
    *("AWS::Logs::LogGroup", "AWS::Logs::MetricFilter", "AWS::Logs::SubscriptionFilter"),
    *("AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::SNS::Subscription", "AWS::SNS::Topic"),
    *("AWS::SNS::TopicPolicy", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "AWS::SSM::Parameter"),
    *("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"),
}
# https://docs.aws.amazon.com/serverlessrepo/latest/devguide/acknowledging-application-capabilities.html
IAM_TYPES = {"AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::Policy", "AWS::IAM::Role"}
RESOURCE_POLICY_TYPES = {
    *("AWS::Lambda::Permission", "AWS::IAM::Policy", "AWS::ApplicationAutoScaling::ScalingPolicy"),
    *("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"),
    *("AWS::Lambda::LayerVersionPermission", "AWS::Events::EventBusPolicy"),
}
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-template-publishing-applications-metadata-properties.html
NAME = re.compile(r"[a-zA-Z0-9\-]+")
AUTHOR = re.compile(r"^[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?$")
LABEL = re.compile(r"^[a-zA-Z0-9+\-_:\/@]+$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
# SAR names the stack serverlessrepo-<application name>; the function is <stack name>-forwarder.
SAR_STACK_PREFIX = "serverlessrepo-"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rokt-AbC123"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def application(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Metadata"]["AWS::ServerlessRepo::Application"]
    return found


class _NoManagedPolicies:
    """The role is explicit: the transform needs no AWS managed policy (and so no IAM call)."""

    def load(self) -> dict[str, str]:
        return {}


def translated(overrides: dict[str, str]) -> dict[str, Any]:
    """The template after the SAM transform, as CloudFormation would create it."""
    sam = load_template(ROOT / "template.yaml")
    for name, properties in sam["Resources"].items():  # as `sam package` leaves them
        for key in ("CodeUri", "ContentUri"):
            if key in properties.get("Properties", {}):
                properties["Properties"][key] = f"s3://artifacts/{name}.zip"
    parameters = {"RoktSecretArn": SECRET_ARN, "AWS::Region": "eu-west-1", **overrides}
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": "eu-west-1"}):  # the transform asks boto3
        result: dict[str, Any] = transform(sam, parameters, _NoManagedPolicies())  # type: ignore[arg-type]
    return result


EVERY_OPTION = {
    "EventBusName": "conversions",
    "SnsTopicArn": "arn:aws:sns:eu-west-1:123456789012:conversions",
    "KmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "Tracing": "Active",
    "SnapStart": "true",
    "AlarmEmail": "ops@example.com",
}


@pytest.fixture(scope="module")
def resource_types(template: dict[str, Any]) -> set[str]:
    """Every type the stack can hold: as written, and as the transform generates them."""
    generated = translated(EVERY_OPTION)["Resources"].values()
    return {r["Type"] for r in template["Resources"].values()} | {r["Type"] for r in generated}


def test_every_resource_type_is_one_sar_supports(resource_types: set[str]) -> None:
    assert {"AWS::Lambda::Alias", "AWS::Lambda::EventSourceMapping", "AWS::IAM::Role"} <= resource_types
    assert resource_types - SAR_SUPPORTED == set()


def test_the_capabilities_to_acknowledge_are_iam_and_resource_policies(resource_types: set[str]) -> None:
    template = translated(EVERY_OPTION)
    named_iam = [r for r in template["Resources"].values() if "RoleName" in r.get("Properties", {})]
    assert not named_iam, "a named IAM resource would need CAPABILITY_NAMED_IAM"
    needed = {"CAPABILITY_IAM"} if resource_types & IAM_TYPES else set()
    needed |= {"CAPABILITY_RESOURCE_POLICY"} if resource_types & RESOURCE_POLICY_TYPES else set()
    assert needed == {"CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"}
    for capability in needed:
        assert capability in README, f"the README must say a SAR user acknowledges {capability}"


def test_the_application_metadata_is_what_sar_accepts(application: dict[str, Any]) -> None:
    assert NAME.fullmatch(application["Name"]) and len(application["Name"]) <= 140
    assert 1 <= len(application["Description"]) <= 256
    assert AUTHOR.fullmatch(application["Author"]) and len(application["Author"]) <= 127
    assert 1 <= len(application["Labels"]) <= 10
    for label in application["Labels"]:
        assert LABEL.fullmatch(label) and len(label) <= 127, label
    assert SEMVER.fullmatch(application["SemanticVersion"])
    # Local files: `sam package` uploads them and writes their S3 address.
    assert application["ReadmeUrl"] == "README.md"
    assert application["LicenseUrl"] == "LICENSE"
    assert (ROOT / application["ReadmeUrl"]).stat().st_size < 5 * 2**20


def test_the_licence_file_is_the_licence_the_metadata_names(application: dict[str, Any]) -> None:
    assert application["SpdxLicenseId"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert text.split("\n")[0].strip() == "Apache License"
    assert "Version 2.0, January 2004" in text
    assert text.rstrip().endswith("END OF TERMS AND CONDITIONS")


def test_the_application_name_leaves_room_for_the_function_name(application: dict[str, Any]) -> None:
    # Lambda names are at most 64 characters: serverlessrepo-<name>-forwarder.
    longest = 64 - len(SAR_STACK_PREFIX) - len("-forwarder")
    assert longest == 39
    assert len(application["Name"]) <= longest
    assert f"at most {longest} characters" in application["Description"]
    assert f"at most {longest} characters" in README


def test_only_the_secret_must_be_filled_in_the_form(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert [name for name, p in parameters.items() if "Default" not in p] == ["RoktSecretArn"]
    assert parameters["RoktPod"]["Default"] == "us1"


def test_every_parameter_explains_itself_in_the_form(template: dict[str, Any]) -> None:
    for name, parameter in template["Parameters"].items():
        description = parameter["Description"]
        assert 20 <= len(description) <= 4000, name  # CloudFormation allows 4000
        # SAR shows the description alone: a path of this repository needs saying where it is.
        for path in re.findall(r"\bdocs/[a-z-]+\.md", description):
            assert "source repository's " + path in description, f"{name}: {path} of what?"
        values = parameter.get("AllowedValues", [])
        shown = ["true"] if values == ["true", "false"] else values
        for value in shown:
            assert value in description, f"{name}: the form does not say {value!r} is a choice"


@pytest.mark.parametrize("name", ["AlarmEmail", "EventBusName", "SecretsExtensionLayerArn", "SnsTopicArn"])
def test_optional_inputs_are_checked_before_anything_is_created(template: dict[str, Any], name: str) -> None:
    parameter = template["Parameters"][name]
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch(parameter["Default"]), "the default (empty) passes"
    assert not pattern.fullmatch("not valid at all!"), name
    assert parameter["ConstraintDescription"].startswith("must be ")


def test_the_patterns_accept_real_values(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    good = {
        "AlarmEmail": "ops@example.com",
        "EventBusName": "default",
        "SecretsExtensionLayerArn": (
            "arn:aws:lambda:eu-west-1:015030872274:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:12"
        ),
    }
    for name, value in good.items():
        assert re.fullmatch(parameters[name]["AllowedPattern"], value), name


def test_the_console_form_groups_every_parameter_once(template: dict[str, Any]) -> None:
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])
    assert groups[0]["Parameters"][0] == "RoktSecretArn"


STATEFUL = ("AWS::SQS::Queue", "AWS::KMS::Key")


def test_queues_and_keys_outlive_the_stack(template: dict[str, Any]) -> None:
    stateful = {n: r for n, r in template["Resources"].items() if r["Type"] in STATEFUL}
    assert set(stateful) == {"ConversionsQueue", "DeadLetterQueue"}, "the stack creates no KMS key"
    for name, resource in stateful.items():
        assert resource["DeletionPolicy"] == "Retain", name
        assert resource["UpdateReplacePolicy"] == "Retain", name


def test_the_transform_keeps_the_queues_retained() -> None:
    resources = translated({})["Resources"]
    for name in ("ConversionsQueue", "DeadLetterQueue"):
        assert (resources[name]["DeletionPolicy"], resources[name]["UpdateReplacePolicy"]) == (
            "Retain",
            "Retain",
        )
