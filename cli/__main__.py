"""`python -m dsbuild.cli` runs the command line."""

import sys

from dsbuild.cli import main

sys.exit(main())
