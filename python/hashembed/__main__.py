"""`python -m hashembed`: the command line (see `hashembed.cli`)."""

import sys

from .cli import main

sys.exit(main())
