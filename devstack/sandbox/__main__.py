"""`python -m devstack.sandbox`: see devstack/sandbox/cli.py."""

import sys

from devstack.sandbox.cli import main

sys.exit(main())
