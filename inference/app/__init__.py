"""App: the programs built on the pipeline — command line, capture, the add-on's worker, preview.

In: command-line arguments (or the worker's, from Blender); out: npz files, a preview PNG, frames
in the shared-memory ring, exit codes with one-line errors. Open ``cli`` first (``python -m
inference``), then ``capture`` (source → detect → batch solve), ``worker`` (``python -m
inference.app.worker``: the add-on's child process), ``options`` (shared argument checks) and
``preview``.
"""
