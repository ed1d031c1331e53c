"""Core: what every stage shares, no stage logic. In: nothing; out: names and records.

``layout`` names every keypoint index, part and face channel (open it first); ``skeleton`` is the
SMPL-X joint tree, its default rest pose and the kinematics; ``rotations`` is the one rotation
library (quaternions x, y, z, w); ``records`` the frame / camera / detection records; ``errors``
the typed one-line errors; ``files`` atomic result writing. Only numpy and the standard library:
Blender imports these too.
"""
