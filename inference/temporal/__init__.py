"""Temporal: the solved motion over time — filtering, offline smoothing and shot cuts.

In: per-frame rotations (x, y, z, w), root, expression and ARKit weights with real timestamps;
out: the same, filtered. Open ``motion_filter`` first (the whole SMPL-X frame through One-Euro
filters, streaming and batch), then ``one_euro`` (the filter itself), ``offline`` (zero-phase
smoothing of whole clips) and ``shots`` (edit cuts the offline smoothing never crosses).
"""
