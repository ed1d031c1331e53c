"""BVH reader, forward kinematics and CMU → SMPL-X retargeting, on the real CMU files and on small
hand-written files whose joint positions are checked by hand."""
import dataclasses
import re

import numpy as np
import pytest

from data_paths import CMU
from support.bvh import bvh_forward_kinematics, cmu_to_smplx, read_bvh
from inference.core.errors import InputError
from inference.core.skeleton import DEFAULT_REST, JOINT_INDEX, bone_vectors, forward_kinematics, local_to_global

CMU_BY_NAME = {p.name: p for p in CMU}
WALKS = [CMU_BY_NAME["cmu_scaled_131_01.bvh"], CMU_BY_NAME["cmu_scaled_131_02.bvh"]]

TWO_BONES = """HIERARCHY
ROOT Hips
{{
  OFFSET 1.0 2.0 3.0
  CHANNELS 6 Xposition Yposition Zposition {root}
  JOINT Arm
  {{
    OFFSET 1.0 0.0 0.0
    CHANNELS {n} {arm}
    JOINT Hand
    {{
      OFFSET 0.0 1.0 0.0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {{
        OFFSET 0.0 0.0 0.5
      }}
    }}
  }}
}}
MOTION
Frames: {frames}
Frame Time: 0.04
{data}
"""


def write(tmp_path, text, name="m.bvh"):
    p = tmp_path / name
    p.write_text(text)
    return p


def two_bones(tmp_path, rows, root="Zrotation Yrotation Xrotation", arm="Zrotation Xrotation", frames=None):
    text = TWO_BONES.format(root=root, n=len(arm.split()), arm=arm,
                            frames=len(rows) if frames is None else frames, data="\n".join(rows))
    return write(tmp_path, text)


def rx(a):
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(a):
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(a):
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# --- parsing the real files ----------------------------------------------------------------------

@pytest.mark.parametrize("path", CMU, ids=[p.name for p in CMU])
def test_cmu_header(path):
    text = path.read_text()
    frames = int(re.search(r"Frames:\s*(\d+)", text).group(1))
    frame_time = float(re.search(r"Frame Time:\s*([\d.]+)", text).group(1))
    m = read_bvh(path)
    assert len(m.names) == 31 and m.names[0] == "Hips" and m.parents[0] == -1
    assert (m.parents[1:] < np.arange(1, 31)).all()  # parents come first
    assert m.num_frames == frames and m.frame_time == pytest.approx(frame_time)
    assert m.fps == pytest.approx(120.0, rel=1e-3)
    assert m.local_rot.shape == (frames, 31, 3, 3) and m.root_pos.shape == (frames, 3)
    assert len(m.channels[0]) == 6 and all(len(c) == 3 for c in m.channels[1:])
    assert m.channels[m.index("LeftShoulder")] == ("Zrotation", "Xrotation", "Yrotation")
    # End Sites: toes, head, fingers and thumbs
    assert sorted(m.names[j] for j in m.end_parent) == sorted(
        ["LeftToe", "RightToe", "Head", "LFingers", "LThumb", "RFingers", "RThumb"])
    R = m.local_rot
    assert np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-9)
    # first frame, root: the file's first six numbers
    first = np.array(text.split("Frame Time:")[1].splitlines()[1].split()[:6], float)
    assert np.allclose(m.root_pos[0], first[:3])
    assert np.allclose(R[0, 0], rz(first[3]) @ ry(first[4]) @ rx(first[5]))


@pytest.mark.parametrize("path", WALKS, ids=[p.name for p in WALKS])
def test_cmu_is_y_up_facing_z_and_feet_on_the_floor(path):
    """Y up, +Z forward, left on +X, and the lowest foot point stays on one floor plane throughout
    the walk (a wrong Euler convention makes it wander by up to 1.4 m on 131_01)."""
    m = read_bvh(path)
    pos, G = bvh_forward_kinematics(m)
    i = m.index
    rest = m.rest_positions()
    assert rest[i("LeftHip"), 0] > 0 > rest[i("RightHip"), 0]  # left on +X
    assert rest[i("LeftToe"), 2] > rest[i("LeftAnkle"), 2]  # toes forward (+Z)
    assert (pos[:, i("Head"), 1] > pos[:, i("Hips"), 1] + 0.2).all()  # upright in every frame
    feet = pos[:, [i("LeftToe"), i("RightToe"), i("LeftAnkle"), i("RightAnkle")], 1].min(1)
    assert feet.std() < 0.02 and np.median(feet) == pytest.approx(0.06, abs=0.03)
    facing = G[:, 0] @ np.array([0.0, 0.0, 1.0])
    assert np.median(facing[:, 2]) > 0.9  # these clips walk towards +Z, facing it


# --- forward kinematics, hand-checked ------------------------------------------------------------

def test_rest_frame_positions_are_cumulative_offsets(tmp_path):
    m = read_bvh(two_bones(tmp_path, ["0.5 0 0 0 0 0 0 0 0 0 0"]))
    assert m.names == ("Hips", "Arm", "Hand") and list(m.parents) == [-1, 0, 1]
    assert np.allclose(m.end_offsets, [[0, 0, 0.5]]) and list(m.end_parent) == [2]
    pos, G = bvh_forward_kinematics(m)
    # root = OFFSET + position channels; then + (1, 0, 0); then + (0, 1, 0)
    assert np.allclose(pos[0], [[1.5, 2, 3], [2.5, 2, 3], [2.5, 3, 3]])
    assert np.allclose(G, np.eye(3))


def test_single_rotation(tmp_path):
    """Root Zrotation 90°: the Arm offset (1, 0, 0) turns to (0, 1, 0), the Hand offset (0, 1, 0)
    to (-1, 0, 0)."""
    m = read_bvh(two_bones(tmp_path, ["0 0 0 90 0 0 0 0 0 0 0"]))
    pos, _ = bvh_forward_kinematics(m)
    assert np.allclose(pos[0], [[1, 2, 3], [1, 3, 3], [0, 3, 3]], atol=1e-12)


@pytest.mark.parametrize("arm, hand", [
    ("Zrotation Xrotation", [2, 2, 4]),    # Rz(90) @ Rx(90) @ (0,1,0) = Rz(90) @ (0,0,1) = (0,0,1)
    ("Xrotation Zrotation", [1, 2, 3]),    # Rx(90) @ Rz(90) @ (0,1,0) = Rx(90) @ (-1,0,0) = (-1,0,0)
])
def test_channel_order_is_the_product_order(tmp_path, arm, hand):
    m = read_bvh(two_bones(tmp_path, ["0 0 0 0 0 0 90 90 0 0 0"], arm=arm))
    pos, _ = bvh_forward_kinematics(m)
    assert np.allclose(pos[0, 2], hand, atol=1e-12)


def test_euler_matches_hand_built_matrices(tmp_path):
    rows = ["0 0 0 10 20 30 -40 50 5 -60 70 15", "1 2 3 -15 25 -35 45 -55 65 -75 85 -95"]
    m = read_bvh(two_bones(tmp_path, rows, arm="Yrotation Xrotation Zrotation"))
    for t, row in enumerate(rows):
        v = np.array(row.split(), float)
        assert np.allclose(m.local_rot[t, 0], rz(v[3]) @ ry(v[4]) @ rx(v[5]))
        assert np.allclose(m.local_rot[t, 1], ry(v[6]) @ rx(v[7]) @ rz(v[8]))
        assert np.allclose(m.local_rot[t, 2], rz(v[9]) @ rx(v[10]) @ ry(v[11]))
    pos, G = bvh_forward_kinematics(m)
    R0, R1 = m.local_rot[1, 0], m.local_rot[1, 1]
    assert np.allclose(pos[1, 2], np.array([2, 4, 6]) + R0 @ [1, 0, 0] + R0 @ R1 @ [0, 1, 0])
    assert np.allclose(G[1, 2], R0 @ R1 @ m.local_rot[1, 2])


# --- malformed files -----------------------------------------------------------------------------

GOOD_ROW = "0 0 0 0 0 0 0 0 0 0 0"


@pytest.mark.parametrize("text, match", [
    (TWO_BONES.format(root="Zrotation Yrotation Xrotation", n=2, arm="Zrotation Xrotation", frames=1,
                      data=GOOD_ROW).split("MOTION")[0], "no MOTION"),
    (TWO_BONES.format(root="Zrotation Yrotation Xrotation", n=2, arm="Zrotation Xrotation", frames=1,
                      data="0 0 0 0 0 0 0 0 0 0"), "has 10 values.*11 channels"),
    (TWO_BONES.format(root="Zrotation Yrotation Xrotation", n=2, arm="Zrotation Xrotation", frames=1,
                      data="0 0 0 0 0 abc 0 0 0 0 0"), "non-numeric"),
    (TWO_BONES.format(root="Zrotation Yrotation Xrotation", n=2, arm="Zrotation Xrotation", frames=3,
                      data=GOOD_ROW), "header says 3 frames.*holds 1"),
    (TWO_BONES.format(root="Zrotation Yrotation Xrotation", n=2, arm="Zrotation Xrotation", frames=1,
                      data=GOOD_ROW).replace("OFFSET 1.0 0.0 0.0", "OFFSET 1.0 zero 0.0"), "expected a number"),
    (TWO_BONES.format(root="Zrotation Yrotation Xrotation", n=2, arm="Zrotation Wrotation", frames=1,
                      data=GOOD_ROW), "unknown channel 'Wrotation'"),
    (TWO_BONES.format(root="Zrotation Yrotation Xrotation", n=2, arm="Zrotation Xrotation", frames=1,
                      data=GOOD_ROW).replace("Frame Time: 0.04", "Frame Time: fast"), "frame time"),
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\nMOTION\nFrames: 1\nFrame Time: 0.1\n0\n", "end of hierarchy"),
    ("hello\nMOTION\n", "expected 'HIERARCHY'"),
])
def test_malformed_files_raise_input_error(tmp_path, text, match):
    with pytest.raises(InputError, match=match) as err:
        read_bvh(write(tmp_path, text))
    assert "\n" not in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_bvh(tmp_path / "nope.bvh")
    p = tmp_path / "bin.bvh"
    p.write_bytes(b"\xff\xfe\x00\x81" * 64)
    with pytest.raises(InputError, match="not a text BVH"):
        read_bvh(p)


def test_non_cmu_skeleton_is_refused(tmp_path):
    m = read_bvh(two_bones(tmp_path, [GOOD_ROW]))
    with pytest.raises(InputError, match="not a CMU skeleton"):
        cmu_to_smplx(m, DEFAULT_REST)


# --- CMU → SMPL-X --------------------------------------------------------------------------------

#: (SMPL-X bone start, end) ↔ (CMU joint start, end): the limb bones, compared frame by frame.
LIMBS = [(f"{s}_{a}", f"{s}_{b}", f"{S}{c}", f"{S}{d}")
         for s, S in (("left", "Left"), ("right", "Right"))
         for a, b, c, d in (("hip", "knee", "Hip", "Knee"), ("knee", "ankle", "Knee", "Ankle"),
                            ("ankle", "foot", "Ankle", "Toe"), ("collar", "shoulder", "Collar", "Shoulder"),
                            ("shoulder", "elbow", "Shoulder", "Elbow"), ("elbow", "wrist", "Elbow", "Wrist"))]
LIMBS += [("left_wrist", "left_middle1", "lhand", "LFingers"), ("right_wrist", "right_middle1", "rhand", "RFingers"),
          ("right_hip", "left_hip", "RightHip", "LeftHip")]  # the pelvis' lateral axis
#: Trunk bones keep SMPL-X's rest curvature: each stays at the fixed angle its rest direction makes
#: with the CMU bone, turning exactly as the CMU segment turns.
TRUNK = [("spine2", "spine3", "Chest", "Chest2"), ("neck", "head", "Neck", "Head")]
#: Where the two skeletons differ in structure, so they agree less closely: the trunk as a whole
#: (SMPL-X pelvis → spine1 moves with the pelvis but CMU Hips → Chest with lowerback, and their rest
#: directions differ by 13°), and SMPL-X spine3 → neck, which moves with spine3 (CMU Chest2) where
#: CMU Chest2 → Neck moves with lowerneck (about 10° in these clips), from rest directions 13° apart
#: (SMPL-X's neck bone leans back, CMU's forward). (start, end, CMU start, CMU end, median, max °)
LOOSE = [("pelvis", "neck", "Hips", "Neck", 12.0, 20.0), ("pelvis", "head", "Hips", "Head", 12.0, 20.0),
         ("spine3", "neck", "Chest2", "Neck", 15.0, 25.0)]


def angles_deg(a, b):
    c = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


@pytest.fixture(scope="module", params=CMU, ids=[p.name for p in CMU])
def retargeted(request):
    m = read_bvh(request.param)
    cmu_pos, _ = bvh_forward_kinematics(m)
    local, root = cmu_to_smplx(m, DEFAULT_REST)
    joints = forward_kinematics(local_to_global(local), bone_vectors(DEFAULT_REST), root)
    return m, cmu_pos, local, root, joints


def test_smplx_bones_follow_cmu_bones(retargeted):
    m, cmu_pos, local, root, joints = retargeted
    for a, b, c, d in LIMBS:
        err = angles_deg(joints[:, JOINT_INDEX[b]] - joints[:, JOINT_INDEX[a]],
                         cmu_pos[:, m.index(d)] - cmu_pos[:, m.index(c)])
        assert np.median(err) < 5.0 and err.max() < 10.0, (a, b, np.median(err), err.max())
    for a, b, c, d in TRUNK:
        err = angles_deg(joints[:, JOINT_INDEX[b]] - joints[:, JOINT_INDEX[a]],
                         cmu_pos[:, m.index(d)] - cmu_pos[:, m.index(c)])
        assert err.max() - err.min() < 0.5 and err.max() < 25.0, (a, b, err.min(), err.max())
    for a, b, c, d, med, most in LOOSE:
        err = angles_deg(joints[:, JOINT_INDEX[b]] - joints[:, JOINT_INDEX[a]],
                         cmu_pos[:, m.index(d)] - cmu_pos[:, m.index(c)])
        assert np.median(err) < med and err.max() < most, (a, b, np.median(err), err.max())


def test_bvh_rest_pose_gives_smplx_rest_trunk_and_feet(retargeted):
    """The CMU skeleton at its rest pose (every rotation zero) leaves the SMPL-X trunk (spine1 …
    head) and toes at their rest shape: no zig-zag of local rotations from forcing SMPL-X's curved
    rest spine along the straight CMU one."""
    m = retargeted[0]
    still = dataclasses.replace(m, local_rot=np.broadcast_to(np.eye(3), m.local_rot[:1].shape).copy(),
                                root_pos=m.root_pos[:1])
    local, _ = cmu_to_smplx(still, DEFAULT_REST)
    for name in ("spine1", "spine2", "spine3", "neck", "head", "left_foot", "right_foot"):
        assert np.allclose(local[0, JOINT_INDEX[name]], np.eye(3), atol=1e-9), name


def test_smplx_motion_is_plausible(retargeted):
    """Rotations are proper, fingers/jaw/eyes are at rest, the body stands upright on the floor at
    the SMPL-X scale (whatever the BVH's units: cmu_131_03 is in CMU units)."""
    m, cmu_pos, local, root, joints = retargeted
    assert local.shape == (m.num_frames, 55, 3, 3) and root.shape == (m.num_frames, 3)
    assert np.allclose(np.linalg.det(local), 1.0)
    assert np.allclose(local[:, 22:], np.eye(3))
    J = JOINT_INDEX
    assert np.allclose(joints[:, 0], root)
    assert (joints[:, J["head"], 1] > joints[:, J["pelvis"], 1] + 0.2).all()
    lowest = joints[:, [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]], 1].min(1)
    assert np.median(lowest) == pytest.approx(0.05, abs=0.05)
    assert np.median(root[:, 1]) == pytest.approx(DEFAULT_REST[0, 1], abs=0.1)


def test_root_scale_does_not_depend_on_units():
    m = read_bvh(WALKS[0])
    big = dataclasses.replace(m, offsets=m.offsets * 39.37, root_pos=m.root_pos * 39.37,
                              end_offsets=m.end_offsets * 39.37)
    local_a, root_a = cmu_to_smplx(m, DEFAULT_REST)
    local_b, root_b = cmu_to_smplx(big, DEFAULT_REST)
    assert np.allclose(root_a, root_b) and np.allclose(local_a, local_b)
