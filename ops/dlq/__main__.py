"""`python -m ops.dlq`: see ops/dlq/command.py."""

import sys

from ops.dlq.command import main

sys.exit(main())
