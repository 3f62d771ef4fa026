"""The dead-letter queue tool: `letters` reads and counts them, `move` redrives them, `command` is the CLI.

`python -m ops.dlq --help` (or `make dlq ARGS=--help`) says how to use it.
"""

from ops.dlq.command import main
from ops.dlq.letters import (
    DEAD_LETTER_ATTRIBUTES,
    SQS_REDRIVEN,
    Queues,
    by_reason,
    look,
    message_id_of,
    print_by_reason,
    reason_of,
)
from ops.dlq.move import Journal, Moved, redrive

__all__ = [
    "DEAD_LETTER_ATTRIBUTES",
    "SQS_REDRIVEN",
    "Journal",
    "Moved",
    "Queues",
    "by_reason",
    "look",
    "main",
    "message_id_of",
    "print_by_reason",
    "reason_of",
    "redrive",
]
