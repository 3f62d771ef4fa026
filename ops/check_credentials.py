"""`make check-credentials`: does the Event API accept the key/secret, on this pod? One line, no ingest.

It reads the key/secret from Secrets Manager and posts an empty array to /v2/bulkevents, with the
forwarder's own secret reader and HttpTransport: an empty array holds nothing to ingest. It asks the same
with a made-up key/secret too, and says "accepted" only if the API refused that one (401/403) but not
yours, so an answer given without checking credentials cannot pass for a yes (docs/event-api.md,
Checking a key/secret). When the pod refuses your key/secret, the other pods are asked, since a key
works on its own pod only.

The secret and pod default to samconfig.toml's RoktSecretArn and RoktPod for --config-env. The region
is the secret ARN's, else --region, samconfig.toml's or your AWS configuration's.

Exit status: 0 OK; 1 any other answer; 2 no region or a wrong argument; 130 interrupted (ops/cli.py).
"""

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus

from aws_lambda_powertools.utilities import parameters

from ops import cli
from ops.samconfig import SamConfig
from rokt_forwarder import limits
from rokt_forwarder.adapters.api import HttpTransport
from rokt_forwarder.adapters.aws import client_config
from rokt_forwarder.adapters.secret import SecretsManagerReader
from rokt_forwarder.config import DEFAULT_REQUEST_TIMEOUT_SECONDS, Settings
from rokt_forwarder.errors import ConfigError, CredentialsError, TransportError
from rokt_forwarder.ports import Credentials, Response

NOTHING_TO_INGEST = b"[]"
# The control: no account has it, so an API that checks credentials must refuse it.
MADE_UP = Credentials("rokt-event-forwarder-check-credentials", "not-a-secret")
REFUSED: frozenset[int] = frozenset({HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN})
# Answers given after the credentials were checked: accepted, or the (empty) body refused.
AUTHENTICATED: frozenset[int] = frozenset({HTTPStatus.OK, HTTPStatus.ACCEPTED, HTTPStatus.BAD_REQUEST})
HOW_TO_FIX = (
    'put the API key and secret your Rokt account manager gave you into it as {"api_key": "…", '
    '"api_secret": "…"} (aws secretsmanager put-secret-value --secret-id … --secret-string …)'
)


@dataclass(frozen=True, slots=True)
class Api:
    url: str
    pod: str | None = None

    @property
    def name(self) -> str:
        return f"pod {self.pod}" if self.pod else self.url

    @property
    def where(self) -> str:
        return f"pod {self.pod} ({self.url})" if self.pod else self.url


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    line: str


type Credential = Callable[[bool, float], Credentials]


def pod_api(pod: str) -> Api:
    """The forwarder's own URL for a pod (config.py), so the check asks what the function will."""
    return Api(Settings.from_env({"ROKT_SECRET_ID": "-", "ROKT_POD": pod}).api_url, pod)


def url_api(url: str) -> Api:
    """Raises ConfigError as the function would for ROKT_API_URL."""
    return Api(Settings.from_env({"ROKT_SECRET_ID": "-", "ROKT_API_URL": url}).api_url)


def ask(api: Api, credentials: Credential, timeout: float) -> Response:
    """One POST of nothing to ingest; raises TransportError or CredentialsError."""
    transport = HttpTransport(api.url, credentials)
    transport.load_credentials()
    return transport.post("/bulkevents", NOTHING_TO_INGEST, timeout)


def check(
    secret: SecretsManagerReader,
    api: Api,
    *,
    other_pods: Sequence[Api] = (),
    timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
) -> Verdict:
    """The one-line answer: OK, REFUSED, WRONG POD, SECRET, UNREACHABLE, WRONG URL, UNAVAILABLE, UNSURE."""
    where = api.where
    try:
        answer = ask(api, secret, timeout)
    except CredentialsError as error:
        return Verdict(
            False,
            f"SECRET: {error}: check the secret's name or full ARN, its region, and that your AWS "
            "credentials may read it (secretsmanager:GetSecretValue)",
        )
    except TransportError as error:
        return Verdict(
            False,
            f"UNREACHABLE: {where} could not be reached ({error}): check the pod or URL and your network",
        )
    status = answer.status
    if status in REFUSED:
        return _refused(secret, api, status, other_pods, timeout)
    if status in AUTHENTICATED:
        try:
            control = ask(api, lambda _refresh, _time_left: MADE_UP, timeout).status
        except TransportError as error:
            return Verdict(False, f"UNREACHABLE: {where} answered once, then not ({error}): try again")
        if control in REFUSED:
            return Verdict(True, f"OK: key/secret accepted by {where}; nothing was ingested")
        return Verdict(
            False,
            f"UNSURE: {where} answered {control} to a made-up key/secret too, so it did not check "
            "credentials on this request: is this the Rokt Event API?",
        )
    if status == HTTPStatus.TOO_MANY_REQUESTS or status >= 500:
        return Verdict(
            False, f"UNAVAILABLE: {where} answered {status}: the API is busy or down; try again later"
        )
    return Verdict(
        False,
        f"WRONG URL: {where} answered {status} to POST /bulkevents: that is not the Event API; "
        "check --pod, or that --api-url is the base URL ending in /v2",
    )


def _refused(
    secret: SecretsManagerReader, api: Api, status: int, other_pods: Sequence[Api], timeout: float
) -> Verdict:
    refused_by = f"refused ({status}) by {api.name}"
    for other in other_pods:
        try:
            if ask(other, secret, timeout).status in AUTHENTICATED:
                return Verdict(
                    False,
                    f"WRONG POD: the key/secret in {secret.secret_id} was {refused_by} but accepted by "
                    f"{other.name}: use RoktPod={other.pod} (make deploy asks for it), and --pod {other.pod}",
                )
        except TransportError:
            continue  # that pod says nothing either way
    others = f", and by {', '.join(o.name for o in other_pods)}" if other_pods else ""
    return Verdict(
        False, f"REFUSED: the key/secret in {secret.secret_id} was {refused_by}{others}: {HOW_TO_FIX}"
    )


def secret_region(secret_id: str) -> str | None:
    """The region in a full secret ARN (arn:aws:secretsmanager:REGION:…), where the secret must be read."""
    parts = secret_id.split(":")
    return parts[3] if len(parts) > 6 and parts[0] == "arn" and parts[2] == "secretsmanager" else None


@cli.entry
def main(argv: Sequence[str] | None = None, pods: Mapping[str, Api] | None = None) -> int:
    """`pods` replaces the real pods' URLs (tests point them at sandboxes)."""
    parser = cli.tool_parser("make check-credentials ARGS=...", __doc__)
    parser.add_argument(
        "--secret-id", help="Secrets Manager name or ARN (default: samconfig's RoktSecretArn)"
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--pod", choices=limits.PODS, help="your Rokt pod (default: samconfig's RoktPod)")
    target.add_argument("--api-url", help="an Event API base URL ending in /v2 instead of a pod")
    parser.add_argument("--region", help="AWS region of the secret when --secret-id is not an ARN")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_REQUEST_TIMEOUT_SECONDS, help="seconds per request"
    )
    args = parser.parse_args(argv)
    config = SamConfig.load(args.config_env)
    secret_id = args.secret_id or config.parameters.get("RoktSecretArn")
    if not secret_id:
        parser.error(f"pass --secret-id (samconfig.toml's {args.config_env} has no RoktSecretArn yet)")
    pods = pods or {pod: pod_api(pod) for pod in limits.PODS}
    try:
        if args.api_url:
            api, others = url_api(args.api_url), []
        else:
            pod = args.pod or config.parameters.get("RoktPod") or "us1"
            api, others = pods[pod], [p for name, p in pods.items() if name != pod]
    except ConfigError as error:
        parser.error(str(error))
    session = cli.session(config, secret_region(secret_id) or args.region)
    provider = parameters.SecretsProvider(boto_config=client_config(), boto3_session=session)
    verdict = check(SecretsManagerReader(secret_id, provider), api, other_pods=others, timeout=args.timeout)
    print(verdict.line)
    return cli.OK if verdict.ok else cli.PROBLEM


if __name__ == "__main__":
    sys.exit(main())
