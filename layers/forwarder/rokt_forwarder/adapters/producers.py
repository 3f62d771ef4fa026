"""The mappings of producers' events, read once at cold start: the presets and the user's own mapping.

The presets ship in this package (presets/*.json). A user's mapping is a JSON file shipped with the
function (ROKT_MAPPING_FILE, relative to its code directory) or the value of an SSM parameter
(ROKT_MAPPING_PARAMETER); its mappings are tried before the presets, so it may also take over a
preset's events. Any problem raises ConfigError naming the variable, the source and the field: the
cold start fails with that one line, and no record is judged by a mapping that is not the one meant.
"""

import json
import os
from pathlib import Path
from typing import Any

from rokt_forwarder.adapters import aws
from rokt_forwarder.config import ProducerSettings
from rokt_forwarder.errors import ConfigError
from rokt_forwarder.mapping import Mappings, compile_mappings

PRESETS = ("shopify", "stripe")
# The package is a directory in the layer (not a zip): presets/ is a plain folder of rokt_forwarder.
PRESETS_DIR = Path(__file__).parent.parent / "presets"


def presets() -> Mappings:
    """The Shopify and Stripe mappings shipped with the package, in that order."""
    found = Mappings()
    for name in PRESETS:
        text = (PRESETS_DIR / f"{name}.json").read_text("utf-8")
        found += _compiled(text, f"preset {name}.json")
    return found


def load(settings: ProducerSettings) -> Mappings:
    """The user's mapping (from the file or the SSM parameter: config allows one) before the presets."""
    own = Mappings()
    if settings.mapping_file:
        own = from_file(settings.mapping_file)
    elif settings.mapping_parameter:
        own = from_parameter(settings.mapping_parameter)
    return own + presets()


def from_file(path: str) -> Mappings:
    """A mapping file; a relative path is the function's code directory's (LAMBDA_TASK_ROOT), as deployed."""
    where = Path(os.environ.get("LAMBDA_TASK_ROOT", "."), path)
    try:
        text = where.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"ROKT_MAPPING_FILE={path}: cannot read it ({type(error).__name__})") from None
    return _compiled(text, f"ROKT_MAPPING_FILE={path}")


def from_parameter(name: str) -> Mappings:
    """The value of an SSM parameter (String, or SecureString under the account's aws/ssm key)."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - deferred, as aws.py's

    try:
        answer: dict[str, Any] = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise ConfigError(f"ROKT_MAPPING_PARAMETER={name}: cannot read it ({code})") from None
    except BotoCoreError as error:
        raise ConfigError(f"ROKT_MAPPING_PARAMETER={name}: cannot read it ({type(error).__name__})") from None
    return _compiled(answer["Parameter"]["Value"], f"ROKT_MAPPING_PARAMETER={name}")


def _compiled(text: str, source: str) -> Mappings:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{source}: not valid JSON ({error})") from None
    try:
        return compile_mappings(document)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
