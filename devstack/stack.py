"""`make local-stack`: the embedded AWS and the sandbox on fixed ports, for `sam local` and your own tests.

It keeps running until Ctrl-C. The queue, DLQ and secret are the template's; the secret holds the
sandbox's key and secret, so the function authenticates against the sandbox as it would against Rokt.
"""

import argparse
import contextlib
import sys
import threading
from collections.abc import Sequence

from devstack.aws import EmbeddedAws
from devstack.demo import ROOT
from devstack.sandbox import Sandbox, SandboxConfig
from devstack.secrets_extension import SecretsExtension
from devstack.template import StackSettings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make local-stack STACK_ARGS=...", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 so that sam local's containers reach it")
    parser.add_argument("--aws-port", type=int, default=5000)
    parser.add_argument("--api-port", type=int, default=8765)
    parser.add_argument("--extension-port", type=int, default=2773, help="the Secrets extension stand-in")
    args = parser.parse_args(argv)
    settings = StackSettings.from_template(ROOT / "template.yaml")
    api = SandboxConfig(host=args.host, port=args.api_port)
    with (
        EmbeddedAws(settings, api.api_key, api.api_secret, port=args.aws_port, host=args.host) as aws,
        Sandbox(api) as sandbox,
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
