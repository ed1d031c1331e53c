"""Face: the 478-point face mesh → ARKit-52 weights, jaw and eye rotations, SMPL-X expression.

In: face-mesh points in pixels (T frames) and, optionally, an SMPL-X model; out: a
:class:`~.solver.FaceResult` (arkit (T, 52), jaw (T, 3), eyes (T, 2, 3), expression (T, E)).
Open ``solver`` first (batch and streaming), then ``measures`` (head pose and expression
measures), ``arkit`` (measures → channels, jaw, eyes) and ``expression`` (SMPL-X fit).
"""
