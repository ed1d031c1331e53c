"""``python -m inference`` → :func:`inference.app.cli.main`."""
import sys

from .app.cli import main

sys.exit(main())
