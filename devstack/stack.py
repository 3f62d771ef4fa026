"""`make local-stack`: the embedded AWS and the sandbox on fixed ports, for `sam local` and your own tests.

It keeps running until Ctrl-C. The queue, DLQ and secret are the template's; the secret holds the
sandbox's key and secret, so the function authenticates against the sandbox as it would against Rokt.
With --function the forwarder runs too, as a deployed stack would: a stack named rokt-event-forwarder
(in moto's CloudFormation, with the template's outputs) whose function consumes the queue and logs to
moto's CloudWatch Logs, so `make send-test` and other AWS tools work against it unchanged.
"""

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from devstack.aws import EmbeddedAws
from devstack.function import containers
from devstack.function_logs import FunctionLogs
from devstack.runner import EventSourceMapping
from devstack.sandbox import Sandbox, SandboxConfig
from devstack.secrets_extension import SecretsExtension
from devstack.template import StackSettings
from ops.logs import log_group_name
from ops.samconfig import ROOT, SamConfig, function_name
from rokt_forwarder.errors import ConfigError


def register_stack(aws: EmbeddedAws, stack_name: str) -> None:
    """A CloudFormation stack in moto with the template's outputs for the embedded resources.

    It owns the function's log group, as the template's ForwarderLogGroup does.
    """
    outputs = {
        "QueueUrl": aws.queue_url,
        "QueueArn": aws.queue_arn,
        "DeadLetterQueueUrl": aws.dlq_url,
        "DeadLetterQueueArn": aws.dlq_arn,
        "FunctionName": function_name(stack_name),
    }
    template = {
        "Resources": {
            "ForwarderLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": log_group_name(function_name(stack_name))},
            }
        },
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    aws.client("cloudformation").create_stack(StackName=stack_name, TemplateBody=json.dumps(template))


@contextlib.contextmanager
def running_forwarder(
    aws: EmbeddedAws, api_url: str, *, stack_name: str, env: Mapping[str, str] | None = None
) -> Iterator[EventSourceMapping]:
    """The real handler consuming the embedded queue as stack `stack_name`, logging to CloudWatch Logs.

    `env` overrides the function's environment (a wrong ROKT_SECRET_ID, say).
    """
    register_stack(aws, stack_name)
    env = {**aws.environment(), "ROKT_API_URL": api_url, "POWERTOOLS_LOG_LEVEL": "INFO", **(env or {})}
    name = function_name(stack_name)
    sqs, logs = aws.client("sqs"), aws.client("logs")  # made here: the pollers' threads share them
    with (
        containers(ROOT, env) as new_container,
        FunctionLogs(logs, name),
        EventSourceMapping.from_settings(
            sqs,
            aws.queue_url,
            aws.queue_arn,
            new_container,
            aws.settings,
            region=aws.region,
            function_name=name,
        ) as mapping,
    ):
        yield mapping


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make local-stack STACK_ARGS=...", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 so that sam local's containers reach it")
    parser.add_argument("--aws-port", type=int, default=5000)
    parser.add_argument("--api-port", type=int, default=8765)
    parser.add_argument("--function", action="store_true", help="run the forwarder on the queue too")
    parser.add_argument("--extension-port", type=int, default=2773, help="the Secrets extension stand-in")
    parser.add_argument(
        "--mapping",
        type=Path,
        help="with --function: your JSON mapping of your own events (ROKT_MAPPING_FILE)",
    )
    parser.add_argument(
        "--record", type=Path, help="append each batch the sandbox accepts to this JSON Lines file"
    )
    args = parser.parse_args(argv)
    settings = StackSettings.from_template(ROOT / "template.yaml")
    api = SandboxConfig(host=args.host, port=args.api_port, record_path=args.record)
    with (
        EmbeddedAws(settings, api.api_key, api.api_secret, port=args.aws_port, host=args.host) as aws,
        Sandbox(api) as sandbox,
        contextlib.ExitStack() as running,
        SecretsExtension(aws.client("secretsmanager"), host=args.host, port=args.extension_port) as extension,
    ):
        print(f"AWS (moto)        {aws.endpoint_url}", flush=True)
        print(f"  queue           {aws.queue_url}")
        print(f"  dead-letter     {aws.dlq_url}")
        print(f"  secret          {aws.secret_arn}")
        print(f"Event API sandbox {sandbox.url}  (stats: {sandbox.url.removesuffix('/v2')}/_sandbox/stats)")
        print("Environment for the forwarder:")
        for name, value in {**aws.environment(), "ROKT_API_URL": sandbox.url}.items():
            print(f"  export {name}={value}")
        if args.function:
            stack_name = SamConfig.load().stack_name or "rokt-event-forwarder"
            env = {"ROKT_MAPPING_FILE": str(args.mapping.resolve())} if args.mapping else {}
            try:
                running.enter_context(running_forwarder(aws, sandbox.url, stack_name=stack_name, env=env))
            except ConfigError as error:  # the cold start fails as deployed: one line naming the setting
                print(f"ERROR: the forwarder cannot start: {error}", file=sys.stderr)
                return 2
            print(f"Forwarder running as stack {stack_name}; try, in another terminal:")
            print(
                f"  AWS_ENDPOINT_URL={aws.endpoint_url} AWS_ACCESS_KEY_ID=testing "
                f"AWS_SECRET_ACCESS_KEY=testing AWS_REGION={aws.region} make send-test"
            )
        print(f"Secrets extension http://{args.host}:{extension.port}/secretsmanager/get  (stand-in)")
        print("  to read the secret through it instead of boto3 (on this host, not in sam local's Docker):")
        for name, value in extension.environment().items():
            print(f"  export {name}={value}")
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
