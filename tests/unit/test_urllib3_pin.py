"""adapters/api.py overrides urllib3's private HTTPConnection._new_conn (the connect's shared deadline).

Private API may change in any release, silently: the connect would lose its deadline or break. So the
override is tied to the urllib3 version it was read against, and these tests fail, saying what to do,
as soon as layers/forwarder/requirements.txt pins a urllib3 whose method differs from the one read.
"""

import hashlib
import inspect
import re
import textwrap
from pathlib import Path

import urllib3
from urllib3.connection import HTTPConnection
from urllib3.exceptions import NameResolutionError, NewConnectionError

from rokt_forwarder.adapters.api import _WatchedHTTPConnection

REQUIREMENTS = Path(__file__).resolve().parents[2] / "layers" / "forwarder" / "requirements.txt"
# The urllib3 versions whose HTTPConnection._new_conn the override was compared with, and a digest of
# that method's source. After reading a new version's method against ours, add it here.
REVIEWED = {"2.8.0": "ef30aed76992130a201502ca343125c92fd6ced8f6998905287ec0034272ddad"}
# What the override reads of the connection, and passes urllib3's errors.
READS = ("_dns_host", "port", "timeout", "socket_options", "host")


def pinned() -> str:
    (version,) = re.findall(r"^urllib3==(\S+)", REQUIREMENTS.read_text(), re.MULTILINE)
    return version


def digest() -> str:
    source = textwrap.dedent(inspect.getsource(HTTPConnection._new_conn))
    return hashlib.sha256(source.encode()).hexdigest()


def test_the_installed_urllib3_is_the_pinned_one() -> None:
    assert urllib3.__version__ == pinned(), (
        f"urllib3 {urllib3.__version__} is installed but {REQUIREMENTS.name} pins {pinned()}: run `make venv`"
    )


def test_the_pinned_urllib3_is_one_the_connect_override_was_read_against() -> None:
    assert pinned() in REVIEWED, (
        f"requirements.txt pins urllib3 {pinned()}, but adapters/api.py's override of the private "
        f"HTTPConnection._new_conn was read against {sorted(REVIEWED)} only: compare urllib3 {pinned()}'s "
        "_new_conn with _WatchedHTTPConnection._new_conn, port what changed, then add the version to REVIEWED"
    )


def test_the_overridden_method_is_the_one_the_override_was_written_for() -> None:
    method = getattr(HTTPConnection, "_new_conn", None)
    assert callable(method), (
        f"urllib3 {urllib3.__version__} has no HTTPConnection._new_conn: the override is dead"
    )
    ours = list(inspect.signature(_WatchedHTTPConnection._new_conn).parameters)
    theirs = list(inspect.signature(method).parameters)
    assert theirs == ours == ["self"], (
        f"HTTPConnection._new_conn{inspect.signature(method)} takes other arguments"
    )
    reviewed = REVIEWED.get(urllib3.__version__)
    assert digest() == reviewed, (
        f"urllib3 {urllib3.__version__}'s HTTPConnection._new_conn is not the one adapters/api.py's "
        "override was compared with: read it against _WatchedHTTPConnection._new_conn, then record "
        "its digest in REVIEWED"
    )


def test_what_the_override_reads_and_raises_is_there() -> None:
    connection = HTTPConnection("example.com", 443)
    missing = [name for name in READS if not hasattr(connection, name)]
    assert not missing, (
        f"urllib3 {urllib3.__version__}'s HTTPConnection lost {missing}, which _new_conn reads"
    )
    assert list(inspect.signature(NameResolutionError).parameters) == ["host", "conn", "reason"]
    assert list(inspect.signature(NewConnectionError).parameters) == ["conn", "message"]
