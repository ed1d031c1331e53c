"""``python -m inference`` → :func:`inference.app.cli.main`."""
import os
import sys

try:
    from .app.cli import main
except KeyboardInterrupt:          # Ctrl-C while the program is still loading: one line, no traceback
    print("error: interrupted before anything was captured", file=sys.stderr)
    sys.exit(130)

_code = main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(_code)   # everything is written and closed: skip MediaPipe's teardown (slow, and it logs)
