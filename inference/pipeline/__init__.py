"""Pipeline: the drivers that chain the stages, and the formats they read and write.

In: detections (a clip, or one at a time) and the camera; out: a :class:`~.motion.Motion` (batch)
or :class:`~.live.FrameResult` per frame (live). Open ``batch`` first (``solve_sequence``: the CLI,
bakes, re-solves), then ``live`` (``LivePipeline``: webcam, live link), ``motion`` (the one reader
and writer of the output npz) and ``detections`` (the detections cache beside a bake).
"""
