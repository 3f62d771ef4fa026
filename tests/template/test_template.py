"""Static checks of template.yaml, samconfig.toml and the events/ samples."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from devstack.samconfig import SamConfig, stack_name_problem
from devstack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SQS_SAMPLES = sorted(p for p in EVENTS.glob("*.json") if p.name != "env.json")


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def get_att(resource: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [resource, attribute]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found


@pytest.fixture(scope="module")
def function(resources: dict[str, Any]) -> dict[str, Any]:
    assert resources["ForwarderFunction"]["Type"] == "AWS::Serverless::Function"
    properties: dict[str, Any] = resources["ForwarderFunction"]["Properties"]
    return properties


@pytest.fixture(scope="module")
def sqs_event(function: dict[str, Any]) -> dict[str, Any]:
    event = function["Events"]["ConversionsQueueEvent"]
    assert event["Type"] == "SQS"
    properties: dict[str, Any] = event["Properties"]
    return properties


def default(template: dict[str, Any], parameter: str) -> Any:
    return template["Parameters"][parameter]["Default"]


def key(node: Any) -> str:
    return json.dumps(node, sort_keys=True)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements, a conditional one (Fn::If) as the one it adds when its condition holds."""
    found = document["Statement"]
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in (found if isinstance(found, list) else [found])]


def test_transform_runtime_and_architecture(template: dict[str, Any], function: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert function.get("Runtime", "python3.13") == "python3.13"
    assert function["Handler"] == "app.lambda_handler"
    assert function["CodeUri"] == "functions/forwarder/"


def test_sqs_event_reports_partial_batch_failures(sqs_event: dict[str, Any]) -> None:
    assert sqs_event["Queue"] == get_att("ConversionsQueue", "Arn")
    assert sqs_event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_sqs_event_tuning_comes_from_parameters(template: dict[str, Any], sqs_event: dict[str, Any]) -> None:
    assert sqs_event["BatchSize"] == ref("BatchSize")
    assert sqs_event["MaximumBatchingWindowInSeconds"] == ref("MaximumBatchingWindowInSeconds")
    assert sqs_event["ScalingConfig"] == {"MaximumConcurrency": ref("MaximumConcurrency")}
    # The defaults must be deployable together: BatchSize > 10 needs a batching window of at least 1 s.
    batch, window = default(template, "BatchSize"), default(template, "MaximumBatchingWindowInSeconds")
    assert 1 <= batch <= 10000
    assert 0 <= window <= 300
    assert batch <= 10 or window >= 1
    assert 2 <= default(template, "MaximumConcurrency") <= 1000


def test_redrive_policy_targets_dlq(template: dict[str, Any], resources: dict[str, Any]) -> None:
    redrive = resources["ConversionsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == get_att("DeadLetterQueue", "Arn")
    assert redrive["maxReceiveCount"] == ref("MaxReceiveCount")
    assert default(template, "MaxReceiveCount") == 5
    assert resources["DeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_visibility_timeout_covers_six_function_timeouts_and_any_allowed_window(
    template: dict[str, Any], resources: dict[str, Any], function: dict[str, Any]
) -> None:
    # AWS: at least 6 x the function timeout + MaximumBatchingWindowInSeconds. The window is a
    # parameter, so the bound must hold for the largest value it accepts.
    timeout = function.get("Timeout", template["Globals"]["Function"]["Timeout"])
    window = template["Parameters"]["MaximumBatchingWindowInSeconds"]["MaxValue"]
    visibility = resources["ConversionsQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * timeout + window


def test_queues_are_encrypted(resources: dict[str, Any]) -> None:
    queues = {name: r for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    assert set(queues) == {"ConversionsQueue", "DeadLetterQueue"}
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_layer_is_built_for_python313(resources: dict[str, Any], function: dict[str, Any]) -> None:
    layer = resources["ForwarderLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Properties"]["ContentUri"] == "layers/forwarder/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert function["Layers"] == [ref("ForwarderLayer")]


def test_function_uses_the_explicit_role(function: dict[str, Any]) -> None:
    # Without Role, SAM generates one and, for an SQS event, attaches the managed policy
    # AWSLambdaSQSQueueExecutionRole (sqs:ReceiveMessage, ... on every queue).
    assert function["Role"] == get_att("ForwarderRole", "Arn")
    assert "Policies" not in function
    assert "PermissionsBoundary" not in function


@pytest.fixture(scope="module")
def role(resources: dict[str, Any]) -> dict[str, Any]:
    assert resources["ForwarderRole"]["Type"] == "AWS::IAM::Role"
    properties: dict[str, Any] = resources["ForwarderRole"]["Properties"]
    return properties


def test_role_is_assumed_only_by_lambda(role: dict[str, Any]) -> None:
    (statement,) = statements(role["AssumeRolePolicyDocument"])
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }


def test_role_has_no_managed_policies(resources: dict[str, Any]) -> None:
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        assert "ManagedPolicyArns" not in properties, name
        assert resource["Type"] != "AWS::IAM::ManagedPolicy", name


def test_each_role_statement_targets_one_resource(role: dict[str, Any]) -> None:
    (policy,) = role["Policies"]
    granted: dict[str, list[str]] = {}
    for statement in statements(policy["PolicyDocument"]):
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}  # no NotAction / NotResource
        actions = statement["Action"]
        assert isinstance(statement["Resource"], dict), "one resource, from an intrinsic, per statement"
        granted[key(statement["Resource"])] = sorted(actions if isinstance(actions, list) else [actions])
    assert granted == {
        # The log group's Arn attribute ends in ":*": the group and its streams.
        key(get_att("ForwarderLogGroup", "Arn")): ["logs:CreateLogStream", "logs:PutLogEvents"],
        key(ref("RoktSecretArn")): ["secretsmanager:GetSecretValue"],
        key(get_att("ConversionsQueue", "Arn")): [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ],
        key(get_att("DeadLetterQueue", "Arn")): ["sqs:SendMessage"],
    }


def test_log_group_is_the_function_log_group(resources: dict[str, Any], function: dict[str, Any]) -> None:
    # The function has a fixed name so that the log group (and the role, through it) need not
    # reference the function: that would be a circular dependency.
    assert function["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-forwarder"}
    log_group = resources["ForwarderLogGroup"]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${AWS::StackName}-forwarder"}


def policy_documents(resource: dict[str, Any]) -> list[dict[str, Any]]:
    properties = resource.get("Properties", {})
    documents = [properties["PolicyDocument"]] if "PolicyDocument" in properties else []
    inline = [p["PolicyDocument"] for p in properties.get("Policies", []) if isinstance(p, dict)]
    return documents + [document for document in inline if document]


def test_no_wildcard_resource_statements(resources: dict[str, Any]) -> None:
    checked = 0
    for name, resource in resources.items():
        for statement in (s for document in policy_documents(resource) for s in statements(document)):
            assert "NotResource" not in statement, name
            targets = statement["Resource"]
            for target in targets if isinstance(targets, list) else [targets]:
                assert not (isinstance(target, str) and "*" in target), f"{name}: wildcard {target!r}"
                checked += 1
    assert checked > 0


def test_event_rule_is_conditional_and_allowed_only_from_the_rule(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert template["Conditions"]["CreateEventRule"] == {
        "Fn::Not": [{"Fn::Equals": [ref("EventBusName"), ""]}]
    }
    assert default(template, "EventBusName") == ""

    rule = resources["ConversionsRule"]
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Condition"] == "CreateEventRule"
    assert rule["Properties"]["EventBusName"] == ref("EventBusName")
    assert rule["Properties"]["EventPattern"] == {"detail-type": [ref("EventDetailType")]}
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == get_att("ConversionsQueue", "Arn")
    assert target["DeadLetterConfig"]["Arn"] == get_att("DeadLetterQueue", "Arn")
    assert "RetryPolicy" in target

    dead_letters = resources["DeadLetterQueueEventsPolicy"]
    assert dead_letters["Condition"] == "CreateEventRule"
    assert dead_letters["Properties"]["Queues"] == [ref("DeadLetterQueue")]
    (statement,) = statements(dead_letters["Properties"]["PolicyDocument"])
    assert statement == sends_from(
        "events.amazonaws.com",
        "DeadLetterQueue",
        get_att("ConversionsRule", "Arn"),
        "AllowConversionsRuleDeadLetters",
    )


def sends_from(service: str, queue: str, source: Any, sid: str | None = None) -> dict[str, Any]:
    """A statement letting one AWS service send to the queue, for one source only."""
    return {
        **({"Sid": sid} if sid else {}),
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Resource": get_att(queue, "Arn"),
        "Condition": {"ArnEquals": {"aws:SourceArn": source}},
    }


def test_the_queue_policy_holds_a_statement_per_optional_sender(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    conditions = template["Conditions"]
    assert conditions["SubscribeSnsTopic"] == {"Fn::Not": [{"Fn::Equals": [ref("SnsTopicArn"), ""]}]}
    assert conditions["GrantQueueAccess"] == {
        "Fn::Or": [{"Condition": "CreateEventRule"}, {"Condition": "SubscribeSnsTopic"}]
    }
    policy = resources["ConversionsQueueEventsPolicy"]
    assert policy["Condition"] == "GrantQueueAccess"
    assert policy["Properties"]["Queues"] == [ref("ConversionsQueue")]
    rule, topic = policy["Properties"]["PolicyDocument"]["Statement"]
    no_value = ref("AWS::NoValue")
    assert rule == {
        "Fn::If": [
            "CreateEventRule",
            sends_from(
                "events.amazonaws.com",
                "ConversionsQueue",
                get_att("ConversionsRule", "Arn"),
                "AllowConversionsRule",
            ),
            no_value,
        ]
    }
    assert topic == {
        "Fn::If": [
            "SubscribeSnsTopic",
            sends_from("sns.amazonaws.com", "ConversionsQueue", ref("SnsTopicArn"), "AllowConversionsTopic"),
            no_value,
        ]
    }


def test_the_optional_sns_subscription_delivers_raw_messages_to_the_queue(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert default(template, "SnsTopicArn") == ""
    pattern = re.compile(template["Parameters"]["SnsTopicArn"]["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("arn:aws:sns:eu-west-1:123456789012:conversions")
    assert not pattern.fullmatch("arn:aws:sqs:eu-west-1:123456789012:conversions")
    subscription = resources["ConversionsTopicSubscription"]
    assert subscription["Type"] == "AWS::SNS::Subscription"
    assert subscription["Condition"] == "SubscribeSnsTopic"
    assert subscription["Properties"] == {
        "TopicArn": ref("SnsTopicArn"),
        "Protocol": "sqs",
        "Endpoint": get_att("ConversionsQueue", "Arn"),
        "RawMessageDelivery": True,
    }


def test_at_most_one_policy_per_queue(resources: dict[str, Any]) -> None:
    # SQS keeps one policy per queue: a second QueuePolicy on the same queue silently replaces the first.
    targets = [
        json.dumps(queue, sort_keys=True)
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy"
        for queue in r["Properties"]["Queues"]
    ]
    assert targets
    assert len(targets) == len(set(targets))


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert {"QueueUrl", "QueueArn", "DeadLetterQueueUrl", "DeadLetterQueueArn", "FunctionName"} <= set(
        outputs
    )
    assert outputs["QueueUrl"]["Value"] == ref("ConversionsQueue")
    assert outputs["DeadLetterQueueArn"]["Value"] == get_att("DeadLetterQueue", "Arn")
    assert outputs["FunctionName"]["Value"] == ref("ForwarderFunction")


def test_function_environment(function: dict[str, Any]) -> None:
    variables = function["Environment"]["Variables"]
    expected = {
        "ROKT_SECRET_ID": ref("RoktSecretArn"),
        "ROKT_POD": ref("RoktPod"),
        "ROKT_ENVIRONMENT": ref("RoktEnvironment"),
        "HASH_PII": ref("HashPii"),
        "DLQ_URL": ref("DeadLetterQueue"),
        "POWERTOOLS_LOG_LEVEL": ref("LogLevel"),
    }
    assert {k: variables.get(k) for k in expected} == expected


def test_secret_arn_pattern(template: dict[str, Any]) -> None:
    pattern = re.compile(template["Parameters"]["RoktSecretArn"]["AllowedPattern"])
    assert pattern.fullmatch("arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/rokt-api-AbC123")
    assert not pattern.fullmatch("rokt-event-api")
    assert not pattern.fullmatch("arn:aws:sqs:us-east-1:123456789012:rokt-conversions")


def test_samconfig(template: dict[str, Any]) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert config["version"] == 0.1
    env = config["default"]
    assert env["global"]["parameters"]["stack_name"] == "rokt-event-forwarder"
    for command in ("local_invoke", "local_start_lambda"):
        assert (ROOT / env[command]["parameters"]["env_vars"]).is_file()


@pytest.mark.parametrize(
    ("env", "stack", "environment"),
    [
        ("default", "rokt-event-forwarder", "development"),
        ("prod", "rokt-event-forwarder-prod", "production"),
    ],
)
def test_each_samconfig_env_is_its_own_stack_and_asks_for_the_secret(
    template: dict[str, Any], env: str, stack: str, environment: str
) -> None:
    config = SamConfig.load(env)
    assert config.stack_name == stack
    assert stack_name_problem(stack) is None
    # parameter_overrides replaces the whole set: each env carries all it overrides, all known.
    assert config.parameters == {"RoktPod": "us1", "RoktEnvironment": environment}
    assert set(config.parameters) <= set(template["Parameters"])
    deploy = tomllib.loads((ROOT / "samconfig.toml").read_text())[env]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["confirm_changeset"] is True


def test_the_secret_arn_is_required(template: dict[str, Any]) -> None:
    # No default anywhere: `sam deploy --guided` must ask, and a plain deploy without it must fail,
    # rather than deploy a placeholder that fails every record.
    assert "Default" not in template["Parameters"]["RoktSecretArn"]
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert set(config) == {"version", "default", "prod"}
    for env in ("default", "prod"):
        assert "RoktSecretArn" not in SamConfig.load(env).parameters
    assert "arn:aws:secretsmanager" not in (ROOT / "samconfig.toml").read_text()


def test_env_json_only_sets_declared_variables(function: dict[str, Any]) -> None:
    # `sam local invoke --env-vars` silently ignores variables the template does not declare.
    env = json.loads((EVENTS / "env.json").read_text())
    assert set(env) == {"ForwarderFunction"}
    overrides = env["ForwarderFunction"]
    assert overrides
    assert set(overrides) <= set(function["Environment"]["Variables"])
    assert all(isinstance(v, str) for v in overrides.values())


def test_there_are_sqs_samples() -> None:
    assert {p.name for p in SQS_SAMPLES} >= {
        "sqs-conversions.json",
        "sqs-mixed.json",
        "sqs-full-batch.json",
    }


@pytest.mark.parametrize("path", SQS_SAMPLES, ids=lambda p: p.name)
def test_sample_is_a_well_formed_sqs_event(path: Path) -> None:
    records = json.loads(path.read_text())["Records"]
    assert isinstance(records, list)
    assert records
    ids = [r["messageId"] for r in records]
    assert len(set(ids)) == len(ids)
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"].startswith("arn:aws:sqs:")
        assert record["receiptHandle"]
        assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId"} <= set(record["attributes"])
        body = record["body"]
        assert isinstance(body, str)
        assert isinstance(json.loads(body), dict)
        assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()


FLAT_KEYS = {
    *("email", "other", "customerid", "rtid"),
    *("firstname", "lastname", "mobile", "ipaddress", "billingzipcode", "dateofbirth", "gender"),
    *("amount", "currency", "quantity", "conversiontype", "productname", "sku", "paymenttype", "margin"),
    *("transactionid", "confirmationref", "environment", "timestamp", "user_agent"),
    *("custom_attributes", "user_attributes"),
}


def test_flat_conversion_samples_are_consistent() -> None:
    records = json.loads((EVENTS / "sqs-conversions.json").read_text())["Records"]
    for record in records:
        body = json.loads(record["body"])
        assert set(body) <= FLAT_KEYS
        assert "timestamp" not in body  # a fixed timestamp would go stale
        if "email" in body and "other" in body:
            assert body["other"] == hashlib.sha256(body["email"].strip().lower().encode()).hexdigest()
