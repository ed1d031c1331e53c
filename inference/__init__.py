"""Monocular full-body capture engine: video/image/webcam → SMPL-X motion. Never imports bpy."""
__version__ = "0.1.0"
