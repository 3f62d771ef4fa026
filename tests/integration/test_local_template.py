"""The local stack takes its settings from the SAM template: loader and StackSettings must read it right."""

from pathlib import Path

import pytest

from devstack.template import StackSettings, load_template

FIXTURE = Path(__file__).parent / "fixtures" / "sam-template.yaml"
REAL_TEMPLATE = Path(__file__).parents[2] / "template.yaml"


def test_short_tags_load_as_long_forms() -> None:
    template = load_template(FIXTURE)

    assert template["Outputs"]["Tags"]["Value"] == {
        "Ref": {"Ref": "ConversionsQueue"},
        "GetAttList": {"Fn::GetAtt": ["ConversionsQueue", "Arn"]},
        "GetAttNested": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "Sub": {"Fn::Sub": "${AWS::StackName}-queue"},
        "SubMap": {"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Stage"}}]},
        "If": {"Fn::If": ["IsProd", "a", "b"]},
        "Select": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "Join": {"Fn::Join": ["-", ["a", "b"]]},
        "Split": {"Fn::Split": [",", "a,b"]},
        "FindInMap": {"Fn::FindInMap": ["Pods", {"Ref": "AWS::Region"}, "Pod"]},
        "Base64": {"Fn::Base64": "text"},
        "ImportValue": {"Fn::ImportValue": "shared-export"},
        "Cidr": {"Fn::Cidr": ["10.0.0.0/16", 4, 8]},
    }
    assert template["Conditions"] == {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Both": {
            "Fn::And": [
                {"Condition": "IsProd"},
                {"Fn::Or": [{"Condition": "NotProd"}, {"Condition": "IsProd"}]},
            ]
        },
    }
    redrive = template["Resources"]["ConversionsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }


def test_settings_use_parameter_defaults_and_globals() -> None:
    assert StackSettings.from_template(FIXTURE) == StackSettings(
        queue_visibility_timeout=121,
        queue_retention_seconds=345600,
        dlq_retention_seconds=1209600,
        max_receive_count=5,
        function_timeout_seconds=20,
        function_memory_mb=512,
        batch_size=100,
        batching_window_seconds=1,
        max_concurrency=5,
        fifo=False,
    )


def test_overrides_replace_parameter_defaults() -> None:
    settings = StackSettings.from_template(
        FIXTURE, {"BatchSize": "10", "MaxReceiveCount": "3", "MaximumConcurrency": "2", "Fifo": "true"}
    )

    assert (settings.batch_size, settings.max_receive_count, settings.max_concurrency) == (10, 3, 2)
    assert settings.fifo is True


def test_function_properties_win_over_globals(tmp_path: Path) -> None:
    text = FIXTURE.read_text().replace(
        "      Handler: app.lambda_handler\n", "      Timeout: 7\n      MemorySize: 1024\n"
    )
    (tmp_path / "template.yaml").write_text(text)

    settings = StackSettings.from_template(tmp_path / "template.yaml")

    assert (settings.function_timeout_seconds, settings.function_memory_mb) == (7, 1024)


def test_unknown_override_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown template parameters: BachSize"):
        StackSettings.from_template(FIXTURE, {"BachSize": "10"})


def test_intrinsics_other_than_a_parameter_ref_are_refused(tmp_path: Path) -> None:
    text = FIXTURE.read_text().replace("VisibilityTimeout: 121", "VisibilityTimeout: !If [IsProd, 300, 121]")
    (tmp_path / "template.yaml").write_text(text)

    with pytest.raises(ValueError, match="cannot resolve"):
        StackSettings.from_template(tmp_path / "template.yaml")


@pytest.mark.skipif(not REAL_TEMPLATE.exists(), reason="template.yaml has not been written yet")
def test_real_template_loads_with_consistent_settings() -> None:
    settings = StackSettings.from_template(REAL_TEMPLATE)

    assert all(
        value > 0 for value in (settings.batch_size, settings.max_concurrency, settings.max_receive_count)
    )
    # AWS: a queue's visibility timeout must outlast six function timeouts plus the batching window.
    assert (
        settings.queue_visibility_timeout
        >= 6 * settings.function_timeout_seconds + settings.batching_window_seconds
    )
