"""What a container restored from a SnapStart snapshot must not share with its siblings.

Many containers resume from one snapshot: each needs its own random state (jitter, the pacer's start),
new connections (the snapshot's sockets are dead), and the secret read again (it may have rotated
since the snapshot was taken). Lambda calls the hook after a restore (`snapshot_restore_py`, present
in the managed runtime only); elsewhere registering is a no-op.
"""

import contextlib
import random

from rokt_forwarder.adapters.api import HttpTransport
from rokt_forwarder.errors import CredentialsError
from rokt_forwarder.invocation import Forwarder


def register(forwarder: Forwarder, transport: HttpTransport) -> bool:
    """Run `after_restore` after each restore; False where the runtime has no SnapStart hooks."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]  # noqa: PLC0415
    except ImportError:
        return False
    register_after_restore(after_restore, forwarder, transport)
    return True


def after_restore(forwarder: Forwarder, transport: HttpTransport) -> None:
    random.seed()
    forwarder.rng.seed()
    if forwarder.pacer is not None:
        forwarder.pacer.restart(forwarder.rng)
    # As at a cold start: if the read fails, the first invocation tries again and says why.
    with contextlib.suppress(CredentialsError):
        transport.restart()
