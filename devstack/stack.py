"""`make local-stack`: the embedded AWS and the sandbox on fixed ports, for `sam local` and your own tests.

It keeps running until Ctrl-C. The queue, DLQ and secret are the template's; the secret holds the
sandbox's key and secret, so the function authenticates against the sandbox as it would against Rokt.
With --function the forwarder runs too, as a deployed stack would: a stack named rokt-event-forwarder
(in moto's CloudFormation, with the template's outputs) whose function consumes the queue and logs to
moto's CloudWatch Logs, so `make send-test` and other AWS tools work against it unchanged.
What follows `--` (make's SANDBOX_ARGS) goes to the sandbox's own options; --no-sandbox leaves it out.
The function's output and moto's errors go to local-stack.log, so the terminal keeps what is printed.
"""

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from devstack.embedded_aws import EmbeddedAws
from devstack.function import containers
from devstack.function_logs import FunctionLogs
from devstack.runner import EventSourceMapping
from devstack.sandbox import Sandbox
from devstack.sandbox import cli as sandbox_cli
from devstack.secrets_extension import SecretsExtension
from devstack.service import url_host
from devstack.template import StackSettings
from ops.logs import log_group_name
from ops.samconfig import ROOT, SamConfig, function_name
from rokt_forwarder.errors import ConfigError

# Where the function's output and moto's errors go, so they do not bury what the stack prints.
LOG = ROOT / "local-stack.log"


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


def split_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The stack's own options, and the sandbox's: what follows the first ``--`` (make's SANDBOX_ARGS)."""
    if "--" not in argv:
        return list(argv), []
    cut = list(argv).index("--")
    return list(argv[:cut]), list(argv[cut + 1 :])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make local-stack STACK_ARGS=... SANDBOX_ARGS=...",
        description=__doc__,
        epilog="Options after -- go to the sandbox (python -m devstack.sandbox --help; make passes "
        "SANDBOX_ARGS there), e.g. -- --p503 0.2 --outage 60-300.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 so that sam local's containers reach it")
    parser.add_argument("--aws-port", type=int, default=5000)
    parser.add_argument("--api-port", type=int, default=sandbox_cli.DEFAULT_PORT)
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
    parser.add_argument(
        "--no-sandbox",
        dest="sandbox",
        action="store_false",
        help="moto only: the forwarder and the secret point at a sandbox run elsewhere (make sandbox)",
    )
    parser.add_argument(
        "--api-url",
        help="with --no-sandbox: that sandbox's base URL (default: the sandbox options' host and port, /v2)",
    )
    parser.add_argument(
        "--log",
        type=Path,
        default=LOG,
        help="the function's output and moto's errors go here, not to the terminal; - for the terminal "
        "(default: local-stack.log in the repository)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    stack_argv, sandbox_argv = split_args(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(stack_argv)
    if args.api_url and args.sandbox:
        parser.error("--api-url names a sandbox run elsewhere: give --no-sandbox with it")
    # The stack's --host, --api-port and --record are the sandbox's defaults; its own options win.
    api = sandbox_cli.options(
        sandbox_argv,
        prog="make local-stack SANDBOX_ARGS=...",
        host=args.host,
        port=args.api_port,
        record_path=args.record,
        log_requests=False,
    )
    settings = StackSettings.from_template(ROOT / "template.yaml")
    terminal, errors = sys.stdout, sys.stderr

    def say(*lines: str) -> None:
        print(*lines, sep="\n", file=terminal, flush=True)

    with contextlib.ExitStack() as running:
        if str(args.log) != "-":
            # Before anything starts: loggers made later (moto's, the function's) write to the file.
            log = running.enter_context(args.log.open("w", encoding="utf-8", buffering=1))
            running.enter_context(contextlib.redirect_stdout(log))
            running.enter_context(contextlib.redirect_stderr(log))
            say(f"Logs              {args.log}  (the function's output, moto's errors: tail -f it)")
        aws = running.enter_context(
            EmbeddedAws(settings, api.api_key, api.api_secret, port=args.aws_port, host=args.host)
        )
        say(f"AWS (moto)        {aws.endpoint_url}")
        say(
            f"  queue           {aws.queue_url}",
            f"  dead-letter     {aws.dlq_url}",
            f"  secret          {aws.secret_arn}",
        )
        if args.sandbox:
            api_url = running.enter_context(Sandbox(api)).url
            say(f"Event API sandbox {api_url}  (stats: {api_url.removesuffix('/v2')}/_sandbox/stats)")
        else:
            api_url = args.api_url or f"http://{url_host(api.host)}:{api.port}/v2"
            say(f"Event API         {api_url}  (not started here: --no-sandbox)")
        environment = aws.environment()
        say("Environment for the forwarder:")
        say(*(f"  export {name}={value}" for name, value in {**environment, "ROKT_API_URL": api_url}.items()))
        aws_env = " ".join(
            f"{name}={environment[name]}"
            for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")
        )
        say("Does the API accept the secret's key/secret? In another terminal:")
        say(f'  {aws_env} make check-credentials ARGS="--api-url {api_url} --secret-id {aws.secret_arn}"')
        if args.function:
            stack_name = SamConfig.load().stack_name or "rokt-event-forwarder"
            env = {"ROKT_MAPPING_FILE": str(args.mapping.resolve())} if args.mapping else {}
            try:
                running.enter_context(running_forwarder(aws, api_url, stack_name=stack_name, env=env))
            except ConfigError as error:  # the cold start fails as deployed: one line naming the setting
                print(f"ERROR: the forwarder cannot start: {error}", file=errors)
                return 2
            say(
                f"Forwarder running as stack {stack_name}; try, in another terminal:",
                f"  {aws_env} make send-test",
            )
        extension = running.enter_context(
            SecretsExtension(aws.client("secretsmanager"), host=args.host, port=args.extension_port)
        )
        say(f"Secrets extension http://{url_host(args.host)}:{extension.port}/secretsmanager/get  (stand-in)")
        say("  to read the secret through it instead of boto3 (on this host, not in sam local's Docker):")
        say(*(f"  export {name}={value}" for name, value in extension.environment().items()))
        say("Ctrl-C stops it.")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
