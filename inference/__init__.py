"""Monocular full-body capture engine: video / image / webcam → SMPL-X motion. Never imports bpy.

One subpackage per stage, data flowing one way (a module never imports a later stage):
``core`` → ``sources`` → ``detect`` → ``body`` → ``face`` → ``temporal`` → ``pipeline`` →
``stream`` → ``app``. Each subpackage's ``__init__`` says what goes in, what comes out and which
module to open first.
"""
__version__ = "0.1.0"
