"""Static checks of template.yaml, samconfig.toml and the events/ samples."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from literals import ROOT

from devstack.function import METRICS_NAMESPACE, SERVICE_NAME
from devstack.template import load_template
from ops.samconfig import SamConfig, stack_name_problem
from rokt_forwarder import outcome
from rokt_forwarder.adapters import metrics, sqs

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
    assert resources["DeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_defaults_outlive_a_day_of_outage_and_no_record_expires_unseen(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """docs/operations.md, Outages: the arithmetic, from the code's schedule and the template."""
    receives = default(template, "MaxReceiveCount")
    backoffs = [
        min(outcome.RETRY_CAP_SECONDS, outcome.RETRY_BASE_SECONDS * 2 ** (n - 1)) for n in range(1, receives)
    ]
    assert sum(b / 2 for b in backoffs) >= 24 * 3600, "the last receive comes a day later at the soonest"
    retention = resources["ConversionsQueue"]["Properties"]["MessageRetentionPeriod"]
    assert sum(backoffs) < retention, "and before the message could expire"
    longest = outcome.MAX_RETRY_SECONDS + outcome.MAX_VISIBILITY_SECONDS
    assert longest < retention, "the age limit dead-letters before SQS could expire a held message"
    assert retention <= resources["DeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]


def test_visibility_timeout_covers_six_function_timeouts_and_any_allowed_window(
    template: dict[str, Any], resources: dict[str, Any], function: dict[str, Any]
) -> None:
    # AWS: at least 6 x the function timeout + MaximumBatchingWindowInSeconds. The window is a
    # parameter, so the bound must hold for the largest value it accepts.
    timeout = function.get("Timeout", template["Globals"]["Function"]["Timeout"])
    window = template["Parameters"]["MaximumBatchingWindowInSeconds"]["MaxValue"]
    visibility = resources["ConversionsQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * timeout + window


def test_queues_are_encrypted_with_sse_sqs_or_the_given_key(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    queues = {name: r for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    assert set(queues) == {"ConversionsQueue", "DeadLetterQueue"}
    assert default(template, "KmsKeyArn") == ""
    assert template["Conditions"]["UseQueueKey"] == {"Fn::Not": [{"Fn::Equals": [ref("KmsKeyArn"), ""]}]}
    for queue in queues.values():
        # Exactly one of the two: CloudFormation refuses both on one queue.
        assert queue["Properties"]["SqsManagedSseEnabled"] == {
            "Fn::If": ["UseQueueKey", ref("AWS::NoValue"), True]
        }
        assert queue["Properties"]["KmsMasterKeyId"] == {
            "Fn::If": ["UseQueueKey", ref("KmsKeyArn"), ref("AWS::NoValue")]
        }


def conditional_policies(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The role's inline policies that exist only under a condition, by that condition."""
    found = resources["ForwarderRole"]["Properties"]["Policies"]
    conditional = [p["Fn::If"] for p in found if "Fn::If" in p]
    assert all(otherwise == ref("AWS::NoValue") for _, _, otherwise in conditional)
    return {condition: policy for condition, policy, _ in conditional}


def test_the_role_may_use_the_queue_key_only_when_one_is_given(resources: dict[str, Any]) -> None:
    policy = conditional_policies(resources)["UseQueueKey"]
    (statement,) = statements(policy["PolicyDocument"])
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Resource"] == ref("KmsKeyArn")
    kms = [
        statement
        for resource in resources.values()
        for statement in (s for d in policy_documents(resource) for s in statements(d))
        if any(str(action).startswith("kms:") for action in statement["Action"])
    ]
    assert kms == [statement], "no other kms: grant"


def test_conditional_policies_do_not_reuse_the_names_an_upgrade_deletes(resources: dict[str, Any]) -> None:
    # Stacks from before 0.1.0 hold AWS::IAM::RolePolicy resources named queue-key and xray on the same
    # role. An upgrade adds the inline policies first and deletes those resources last: a policy of the
    # same name would be deleted with them, and the function would lose its key or X-Ray access.
    names = [p["PolicyName"] for p in conditional_policies(resources).values()]
    assert sorted(names) == ["queue-key-access", "xray-traces"]
    assert not {"queue-key", "xray"} & set(names)
    assert not [r for r in resources.values() if r["Type"] == "AWS::IAM::RolePolicy"]


def test_layer_is_built_for_python313(resources: dict[str, Any], function: dict[str, Any]) -> None:
    layer = resources["ForwarderLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert "build-ForwarderLayer:" in (ROOT / "layers" / "forwarder" / "Makefile").read_text()
    assert layer["Properties"]["ContentUri"] == "layers/forwarder/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert function["Layers"][0] == ref("ForwarderLayer")
    assert len(function["Layers"]) == 3, "the others are optional: the secrets extension and tracing"


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
    (policy,) = [p for p in role["Policies"] if "Fn::If" not in p]  # the unconditional one
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
        key(MAPPING_PARAMETER_ARN): ["ssm:GetParameter"],
    }


MAPPING_PARAMETER_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${MappingParameterName}"
}


def test_the_role_reads_the_mapping_parameter_only_when_one_is_named(
    template: dict[str, Any], role: dict[str, Any]
) -> None:
    assert template["Conditions"]["ReadMappingParameter"] == {
        "Fn::Not": [{"Fn::Equals": [ref("MappingParameterName"), ""]}]
    }
    policy = next(p for p in role["Policies"] if isinstance(p, dict) and p.get("PolicyName") == "forwarder")
    conditional = [s["Fn::If"] for s in policy["PolicyDocument"]["Statement"] if "Fn::If" in s]
    assert conditional == [
        [
            "ReadMappingParameter",
            {
                "Sid": "ReadMappingParameter",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": MAPPING_PARAMETER_ARN,
            },
            ref("AWS::NoValue"),
        ]
    ]
    # The name must start with "/": the ARN is "parameter" followed by the name, so it is exact.
    pattern = re.compile(template["Parameters"]["MappingParameterName"]["AllowedPattern"])
    assert (
        pattern.fullmatch("")
        and pattern.fullmatch("/rokt/mapping")
        and pattern.fullmatch("/rokt_v2.mapping-1")
    )
    assert not pattern.fullmatch("rokt-mapping")
    assert not pattern.fullmatch("/rokt/*")


def test_data_plan_parameters_are_checked_as_the_function_checks_them(template: dict[str, Any]) -> None:
    plan_id = re.compile(template["Parameters"]["DataPlanId"]["AllowedPattern"])
    version = re.compile(template["Parameters"]["DataPlanVersion"]["AllowedPattern"])
    assert (
        plan_id.fullmatch("") and plan_id.fullmatch("rokt_conversions") and not plan_id.fullmatch("my plan")
    )
    assert version.fullmatch("") and version.fullmatch("12")
    assert not version.fullmatch("0") and not version.fullmatch("1.5")
    for name in ("MappingFile", "MappingParameterName", "DataPlanId", "DataPlanVersion", "EventSourcePrefix"):
        assert default(template, name) == "", f"{name}: off unless given"


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
    # A conditional inline policy (Fn::If) counts as the one it adds when its condition holds.
    policies = [p["Fn::If"][1] if "Fn::If" in p else p for p in properties.get("Policies", [])]
    inline = [p["PolicyDocument"] for p in policies if isinstance(p, dict)]
    return documents + [document for document in inline if document]


# X-Ray has no resource-level permissions: its two write actions need "*" (only with Tracing=Active).
XRAY_WRITE = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]


def test_no_wildcard_resource_statements(resources: dict[str, Any]) -> None:
    checked = 0
    for name, resource in resources.items():
        for statement in (s for document in policy_documents(resource) for s in statements(document)):
            assert "NotResource" not in statement, name
            if statement.get("Sid") == "WriteTraces" and sorted(statement["Action"]) == XRAY_WRITE:
                continue
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
    # A partner event bus's events (Stripe's detail-type is each event's type) match by source prefix.
    assert rule["Properties"]["EventPattern"] == {
        "Fn::If": [
            "MatchSourcePrefix",
            {"source": [{"prefix": ref("EventSourcePrefix")}]},
            {"detail-type": [ref("EventDetailType")]},
        ]
    }
    assert template["Conditions"]["MatchSourcePrefix"] == {
        "Fn::Not": [{"Fn::Equals": [ref("EventSourcePrefix"), ""]}]
    }
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
        "ROKT_MAX_BATCHES_PER_SECOND": ref("MaxBatchesPerSecond"),
        "ROKT_CONCURRENCY": ref("MaximumConcurrency"),
        "ROKT_MAX_RECEIVE_COUNT": ref("MaxReceiveCount"),
        "DLQ_URL": ref("DeadLetterQueue"),
        "POWERTOOLS_LOG_LEVEL": ref("LogLevel"),
        "ROKT_MAPPING_FILE": ref("MappingFile"),
        "ROKT_MAPPING_PARAMETER": ref("MappingParameterName"),
        "ROKT_DATA_PLAN_ID": ref("DataPlanId"),
        "ROKT_DATA_PLAN_VERSION": ref("DataPlanVersion"),
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
        "sqs-shopify.json",
        "sqs-stripe.json",
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


def test_both_queues_have_the_message_size_dead_letters_are_fitted_to(resources: dict[str, Any]) -> None:
    for queue in ("ConversionsQueue", "DeadLetterQueue"):
        assert resources[queue]["Properties"]["MaximumMessageSize"] == sqs.MAX_MESSAGE_BYTES


def test_sam_local_may_use_plain_http_to_the_local_stack_only_by_opting_in() -> None:
    overrides = json.loads((EVENTS / "env.json").read_text())["ForwarderFunction"]
    assert overrides["ROKT_API_URL"].startswith("http://") and overrides["ROKT_ALLOW_HTTP"] == "true"


def test_snapstart_is_opt_in_on_published_versions_behind_an_alias(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    assert default(template, "SnapStart") == "false"
    assert template["Conditions"]["UseSnapStart"] == {"Fn::Equals": [ref("SnapStart"), "true"]}
    assert function["SnapStart"] == {
        "Fn::If": ["UseSnapStart", {"ApplyOn": "PublishedVersions"}, ref("AWS::NoValue")]
    }
    assert function["AutoPublishAlias"] == "live"


def test_the_secrets_extension_is_opt_in_and_tells_the_function_its_port(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    assert default(template, "SecretsExtensionLayerArn") == ""
    assert function["Layers"][1] == {
        "Fn::If": ["UseSecretsExtension", ref("SecretsExtensionLayerArn"), ref("AWS::NoValue")]
    }
    port = function["Environment"]["Variables"]["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"]
    assert port == {"Fn::If": ["UseSecretsExtension", "2773", ""]}


# --- Operations: alarms and where they go, the dashboard, tracing, the security scan's skips ---

ALARMS = {
    "DeadLetterQueueAlarm",
    "QueueLagAlarm",
    "FunctionErrorsAlarm",
    "FailedRecordsAlarm",
    "CredentialsAlarm",
}
ALARM_TARGET = [{"Fn::If": ["CreateAlarmTopic", ref("AlarmTopic"), ref("AlarmTopicArn")]}]
OPERATIONS_DOC = ROOT / "docs" / "operations.md"


@pytest.fixture(scope="module")
def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def custom_metrics(node: Any) -> list[dict[str, Any]]:
    """Every {Namespace, MetricName, Dimensions} of our own namespace inside `node`."""
    if isinstance(node, list):
        return [m for item in node for m in custom_metrics(item)]
    if not isinstance(node, dict):
        return []
    found = [node] if node.get("Namespace") == METRICS_NAMESPACE else []
    return found + [m for value in node.values() for m in custom_metrics(value)]


def test_alarms_exist_and_each_notifies_when_it_fires_and_clears(alarms: dict[str, dict[str, Any]]) -> None:
    assert set(alarms) >= ALARMS
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == ALARM_TARGET, name
        assert alarm["OKActions"] == ALARM_TARGET, name
        assert alarm["TreatMissingData"] == "notBreaching", f"{name}: no traffic is no trouble"
        assert alarm["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-"), name


def test_alarm_topic_is_created_unless_one_is_given_with_an_optional_email(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert default(template, "AlarmTopicArn") == ""
    assert default(template, "AlarmEmail") == ""
    conditions = template["Conditions"]
    assert conditions["CreateAlarmTopic"] == {"Fn::Equals": [ref("AlarmTopicArn"), ""]}
    assert conditions["SubscribeAlarmEmail"] == {
        "Fn::And": [{"Condition": "CreateAlarmTopic"}, {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]}]
    }
    topic = resources["AlarmTopic"]
    assert (topic["Type"], topic["Condition"]) == ("AWS::SNS::Topic", "CreateAlarmTopic")
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "SubscribeAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": ref("AlarmTopic"),
        "Protocol": "email",
        "Endpoint": ref("AlarmEmail"),
    }
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == ALARM_TARGET[0]


def test_queue_alarms_watch_dlq_depth_and_the_age_of_the_oldest_conversion(
    template: dict[str, Any], alarms: dict[str, dict[str, Any]]
) -> None:
    dlq = alarms["DeadLetterQueueAlarm"]
    assert (dlq["Namespace"], dlq["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": get_att("DeadLetterQueue", "QueueName")}]
    assert (dlq["ComparisonOperator"], dlq["Threshold"]) == ("GreaterThanThreshold", 0)
    lag = alarms["QueueLagAlarm"]
    assert (lag["Namespace"], lag["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert lag["Dimensions"] == [{"Name": "QueueName", "Value": get_att("ConversionsQueue", "QueueName")}]
    assert lag["Threshold"] == ref("QueueAgeAlarmSeconds")
    assert default(template, "QueueAgeAlarmSeconds") >= 60


def test_function_errors_alarm(alarms: dict[str, dict[str, Any]]) -> None:
    errors = alarms["FunctionErrorsAlarm"]
    assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": ref("ForwarderFunction")}]
    assert (errors["ComparisonOperator"], errors["Threshold"]) == ("GreaterThanThreshold", 0)


def test_failed_records_alarm_is_a_share_of_all_records(
    template: dict[str, Any], alarms: dict[str, dict[str, Any]]
) -> None:
    alarm = alarms["FailedRecordsAlarm"]
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    (shown,) = [query for query in alarm["Metrics"] if query.get("ReturnData", True)]
    assert shown["Expression"] == "IF(total > 0, 100 * failed / total, 0)"
    assert queries["total"]["Expression"] == "delivered + deadlettered + failed"
    named = {q["Id"]: q["MetricStat"]["Metric"]["MetricName"] for q in queries.values() if "MetricStat" in q}
    assert named == {
        "failed": metrics.Metric.FAILED,
        "delivered": metrics.Metric.DELIVERED,
        "deadlettered": metrics.Metric.DEAD_LETTERED,
    }
    assert alarm["Threshold"] == ref("FailedRecordsAlarmPercent")
    assert 1 <= default(template, "FailedRecordsAlarmPercent") <= 100


def test_credentials_alarm_fires_on_the_first_failure(alarms: dict[str, dict[str, Any]]) -> None:
    alarm = alarms["CredentialsAlarm"]
    assert alarm["MetricName"] == metrics.Metric.CREDENTIALS_FAILURES
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "GreaterThanThreshold",
        0,
    )


def test_custom_metrics_are_ones_the_code_emits_under_its_namespace_and_service(
    function: dict[str, Any], alarms: dict[str, dict[str, Any]]
) -> None:
    variables = function["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
    assert variables["POWERTOOLS_SERVICE_NAME"] == ref("AWS::StackName"), "one stack's metrics apart"
    used = custom_metrics(list(alarms.values()))
    assert {m["MetricName"] for m in used} >= {metrics.Metric.FAILED, metrics.Metric.CREDENTIALS_FAILURES}
    for metric in used:
        assert metric["MetricName"] in set(metrics.Metric)
        assert metric["Dimensions"] == [{"Name": "service", "Value": ref("AWS::StackName")}]


def test_the_local_stack_runs_with_the_deployed_metric_settings() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert config["default"]["global"]["parameters"]["stack_name"] == SERVICE_NAME


def test_each_alarm_points_to_its_entry_in_the_operations_doc(alarms: dict[str, dict[str, Any]]) -> None:
    doc = OPERATIONS_DOC.read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in doc.splitlines()
        if line.startswith("#")
    }
    for name, alarm in alarms.items():
        description = alarm["AlarmDescription"]
        text = description if isinstance(description, str) else description["Fn::Sub"]
        (anchor,) = re.findall(r"docs/operations\.md#([a-z-]+)", text)
        assert anchor in anchors, f"{name}: no section #{anchor} in docs/operations.md"


@pytest.fixture(scope="module")
def dashboard(template: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    """The dashboard body as JSON, with each ${...} of its Fn::Sub replaced by a sample value."""
    properties = resources["OperationsDashboard"]["Properties"]
    body, variables = properties["DashboardBody"]["Fn::Sub"]
    assert variables == {"Namespace": METRICS_NAMESPACE}
    names = set(re.findall(r"\$\{([^}]+)\}", body))
    known = {*resources, *template["Parameters"], "AWS::Region", "AWS::StackName", *variables}
    assert {name.split(".")[0] for name in names} <= known
    samples = {"QueueAgeAlarmSeconds": "900", **variables}
    parsed: dict[str, Any] = json.loads(
        re.sub(r"\$\{([^}]+)\}", lambda m: samples.get(m.group(1), f"sample-{m.group(1)}"), body)
    )
    return parsed


def test_dashboard_shows_throughput_429s_lag_dlq_errors_and_duration(
    resources: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    assert resources["OperationsDashboard"]["Type"] == "AWS::CloudWatch::Dashboard"
    plotted: dict[str, set[str]] = {}
    for widget in dashboard["widgets"]:
        for line in widget["properties"].get("metrics", []):
            namespace, name = line[0], line[1]
            plotted.setdefault(namespace, set()).add(name)
    assert plotted[METRICS_NAMESPACE] >= {
        metrics.Metric.DELIVERED,
        metrics.Metric.DEAD_LETTERED,
        metrics.Metric.FAILED,
        metrics.Metric.THROTTLED,
        metrics.Metric.OLDEST_RECORD_AGE,
        metrics.Metric.LATENCY,
    }
    assert plotted[METRICS_NAMESPACE] <= set(metrics.Metric)
    assert {"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"} <= plotted["AWS/SQS"]
    assert {"Errors", "Duration"} <= plotted["AWS/Lambda"]
    (alarm_widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert {
        arn.removeprefix("sample-").removesuffix(".Arn") for arn in alarm_widget["properties"]["alarms"]
    } == (ALARMS)


def test_tracing_is_opt_in_and_loads_its_sdk_layer_only_when_on(
    template: dict[str, Any], resources: dict[str, Any], function: dict[str, Any]
) -> None:
    assert default(template, "Tracing") == "Disabled"
    assert template["Conditions"]["TracingEnabled"] == {"Fn::Equals": [ref("Tracing"), "Active"]}
    assert function["Tracing"] == {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}
    assert function["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingEnabled", "false", "true"]
    }
    assert function["Layers"][2] == {"Fn::If": ["TracingEnabled", ref("TracingLayer"), ref("AWS::NoValue")]}
    assert resources["TracingLayer"]["Condition"] == "TracingEnabled"
    (statement,) = statements(conditional_policies(resources)["TracingEnabled"]["PolicyDocument"])
    assert sorted(statement["Action"]) == XRAY_WRITE


def test_every_security_scan_skip_is_justified(resources: dict[str, Any]) -> None:
    skips = [
        (name, skip)
        for name, resource in resources.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), name
        assert len(skip.get("comment", "").split()) >= 8, f"{name}: {skip['id']} needs a reason"
