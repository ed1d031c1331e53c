"""Body: detections → the SMPL-X skeleton posed in the camera frame, and the world frame.

In: detections (T frames) and the camera; out: global joint rotations and joint positions (camera
frame), the subject's rest skeleton and camera_to_world. Open ``lifting`` first (the perspective
lifting passes), then ``solve`` (the analytic root-first solver; ``solve_numba`` is its compiled
twin for one frame, both driven by ``tables``), ``refine`` (batch least-squares fit of all
landmarks), ``lift`` (root depth, perspective targets), ``landmarks`` (where each landmark sits on
the skeleton), ``subject`` / ``proportions`` (the rest skeleton and measuring it), ``world``
(camera → Y-up world) and ``body_model`` (user-supplied SMPL-X files).
"""
