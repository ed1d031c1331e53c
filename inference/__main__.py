"""``python -m inference`` → :func:`inference.cli.main`."""
import sys

from .cli import main

sys.exit(main())
