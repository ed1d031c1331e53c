"""Retarget: carries SMPL-X motion onto any humanoid armature, without Blender.

In: a Motion's arrays (local joint rotations x, y, z, w, the SMPL translation, the rest joints) and
a target skeleton (bone names, parents and Blender rest matrices, ``rig.TargetRig``) with a bone
map (SMPL-X joint name → target bones). Out: per-frame pose-bone quaternions in each bone's rest
frame and the root bone's pose location (``retarget.Retargeted``), what the add-on keys. Open
``retarget`` first (the call a bake or a live tick makes), then ``plan`` (what is worked out once
per rig: rest alignment, chains, foot points, leg-length scale) and ``rig`` (rest matrices from
head, tail and roll as Blender computes them). Rig profiles (JSON name tables per rig family) and
their detection live in ``profiles``, ARKit shape-key name matching in ``face_names``.
"""
