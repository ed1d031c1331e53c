"""The named indices of inference/core/layout.py agree with the MediaPipe topology they name."""
import numpy as np

from inference.core import layout as L


def test_blocks_tile_the_keypoints():
    blocks = [L.BODY, L.LHAND, L.RHAND, L.FACE]
    assert [b.start for b in blocks] == [0, L.NUM_BODY, L.NUM_BODY + L.NUM_HAND, L.NUM_LANDMARKS]
    assert [b.stop - b.start for b in blocks] == [L.NUM_BODY, L.NUM_HAND, L.NUM_HAND, L.NUM_FACE]
    assert L.FACE.stop == L.NUM_KEYPOINTS == 553 and L.NUM_LANDMARKS == 75
    assert L.HAND_START == (L.LHAND.start, L.RHAND.start) and L.HANDS == (L.LHAND, L.RHAND)
    assert [L.hand_slice(s) for s in (0, 1)] == [L.LHAND, L.RHAND]
    assert L.LANDMARKS == slice(0, L.RHAND.stop)


def test_parts_order():
    assert L.PARTS == ("body", "left_hand", "right_hand", "face") and L.NUM_PARTS == 4
    assert [L.PARTS[i] for i in (L.PART_BODY, L.PART_LEFT_HAND, L.PART_RIGHT_HAND, L.PART_FACE)] == list(L.PARTS)
    assert np.arange(4)[L.PART_HANDS].tolist() == [L.PART_LEFT_HAND, L.PART_RIGHT_HAND]


def test_pose_names_and_pairs():
    assert len(L.POSE_NAMES) == L.NUM_BODY and L.POSE["nose"] == 0 and L.POSE["right_foot_index"] == 32
    for name, pair in (("shoulder", L.POSE_SHOULDERS), ("hip", L.POSE_HIPS), ("wrist", L.POSE_WRISTS)):
        assert [L.POSE_NAMES[i] for i in pair] == [f"left_{name}", f"right_{name}"]
    assert [L.POSE_NAMES[i] for i in L.POSE_FEET] == ["left_heel", "right_heel", "left_foot_index", "right_foot_index"]
    assert [L.POSE_NAMES[i] for i in L.POSE_FACE][-1] == "mouth_right" and len(L.POSE_FACE) == 11
    for side, prefix in enumerate(("left_", "right_")):
        assert all(L.POSE_NAMES[i].startswith(prefix) for i in L.POSE_HAND_POINTS[side])


def test_hand_names():
    assert len(L.HAND_NAMES) == L.NUM_HAND and L.HAND["wrist"] == 0
    assert [L.HAND_NAMES[i] for i in L.HAND_KNUCKLES] == ["index_mcp", "middle_mcp", "ring_mcp", "pinky_mcp"]
    assert [L.HAND_NAMES[i] for i in L.HAND_PALM][:2] == ["wrist", "thumb_cmc"]
    for finger, start in L.HAND_FINGER_START.items():
        names = [L.HAND_NAMES[start + k] for k in range(4)]
        assert all(n.startswith(finger) for n in names) and names[-1].endswith("tip")


def test_face_mesh_indices_are_in_range_and_sided():
    tables = [v for k, v in vars(L).items() if k.startswith("FACE_") and k != "FACE"]
    flat = np.concatenate([np.ravel(t) for t in tables] + [L.IBUG51_FROM_MEDIAPIPE])
    assert flat.min() >= 0 and flat.max() < L.NUM_FACE
    assert len(L.IBUG51_FROM_MEDIAPIPE) == 51 and len(set(L.IBUG51_FROM_MEDIAPIPE.tolist())) == 51
    # left/right tables: the left eye's outer corner (263) and the iris of the left eye (473)
    assert L.FACE_EYE_OUTER[0] == 263 and L.FACE_IRIS.tolist() == [473, 468]


def test_face_channels():
    assert len(L.ARKIT_NAMES) == L.NUM_ARKIT == 52 and len(set(L.ARKIT_NAMES)) == 52
    assert all(L.ARKIT_NAMES[i] == n for n, i in L.ARKIT_INDEX.items())
    assert set(L.ARKIT_UNOBSERVED) <= set(L.ARKIT_NAMES)
    assert L.NUM_EXPRESSION == 10
