"""ARKit-52 names matched to shape keys across naming conventions, the user's table, unmatched reports."""
from __future__ import annotations

import json
import re

import pytest

from inference.core.layout import ARKIT_NAMES
from inference.retarget import face_names as F


def _words(name: str) -> list[str]:
    return re.findall(r"[a-z]+|[A-Z][a-z]*", name)


def _short_side(name: str, sep: str, pascal: bool) -> str:
    """eyeBlinkLeft → EyeBlink_L (pascal) or eyeBlink_L; names without a side keep their words."""
    w = _words(name)
    side = {"Left": "L", "Right": "R"}.get(w[-1])
    words = w[:-1] if side else w
    stem = "".join(x.capitalize() for x in words) if pascal else words[0] + "".join(words[1:])
    return f"{stem}{sep}{side}" if side else stem


CONVENTIONS = {
    "arkit": lambda n: n,
    "EyeBlink_L": lambda n: _short_side(n, "_", True),
    "eyeBlink_L": lambda n: _short_side(n, "_", False),
    "eyeBlink.L": lambda n: _short_side(n, ".", False),
    "Eye_Blink_Left": lambda n: "_".join(w.capitalize() for w in _words(n)),
    "eye_blink_left": lambda n: "_".join(w.lower() for w in _words(n)),
    "EYE_BLINK_LEFT": lambda n: "_".join(w.upper() for w in _words(n)),
    "EyeBlinkLeft": lambda n: n[0].upper() + n[1:],
    "blendShape1.eyeBlinkLeft": lambda n: f"blendShape1.{n}",
    "Head_Mesh:eyeBlinkLeft": lambda n: f"Head_Mesh:{n}",
    "A14_Eye_Blink_Left": lambda n: f"A{ARKIT_NAMES.index(n) + 1:02d}_" + "_".join(w.capitalize() for w in _words(n)),
}


@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_every_convention_matches_all_52(convention):
    convert = CONVENTIONS[convention]
    keys = ["Basis"] + [convert(n) for n in ARKIT_NAMES] + ["Custom_Smirk"]
    assert len(set(keys)) == len(keys)
    match = F.match_shape_keys(keys)
    assert match.mapping == {n: convert(n) for n in ARKIT_NAMES}, convention
    assert match.unmatched == [] and match.unused_keys == ["Basis", "Custom_Smirk"]
    assert "52/52" in match.summary()


def test_spot_checks():
    assert F.canonical("EyeBlink_L") == F.canonical("eyeBlinkLeft") == F.canonical("Eye_Blink_Left")
    assert F.canonical("blendShape1.eyeBlinkLeft") == F.canonical("eyeBlink.L") == "eyeblink.l"
    assert F.canonical("A25_Jaw_Open") == F.canonical("jawOpen")
    assert F.canonical("mouthLeft") != F.canonical("mouthSmileLeft")
    assert F.canonical("eyeLookInLeft") != F.canonical("eyeLookInRight")


def test_unmatched_are_reported_in_arkit_order():
    keys = ["Basis", "eyeBlinkLeft", "EyeBlink_R", "jawOpen", "Mouth_Smile_L", "Frown"]
    match = F.match_shape_keys(keys)
    assert match.mapping == {"eyeBlinkLeft": "eyeBlinkLeft", "eyeBlinkRight": "EyeBlink_R",
                             "jawOpen": "jawOpen", "mouthSmileLeft": "Mouth_Smile_L"}
    assert match.unmatched == [n for n in ARKIT_NAMES if n not in match.mapping]
    assert match.unused_keys == ["Basis", "Frown"]
    assert "mouthSmileRight" in match.summary()


def test_aliases_fill_in_only_when_the_arkit_name_is_absent():
    match = F.match_shape_keys(["Blink_L", "blinkRight", "MouthOpen"])
    assert match.mapping == {"eyeBlinkLeft": "Blink_L", "eyeBlinkRight": "blinkRight", "jawOpen": "MouthOpen"}
    match = F.match_shape_keys(["jawOpen", "mouthOpen"])
    assert match.mapping == {"jawOpen": "jawOpen"} and match.unused_keys == ["mouthOpen"]
    assert set(F.builtin_aliases()) <= set(ARKIT_NAMES)


def test_user_table_wins_and_round_trips(tmp_path):
    keys = ["eyeBlinkLeft", "lid_close_L", "jawOpen", "Jaw_Drop"]
    table = {"eyeBlinkLeft": "lid_close_L", "jawOpen": "Jaw_Drop", "cheekPuff": "missing_key"}
    path = F.save_table(tmp_path / "face.json", table)
    assert F.load_table(path) == table
    match = F.match_shape_keys(keys, F.load_table(path))
    assert match.mapping == {"eyeBlinkLeft": "lid_close_L", "jawOpen": "Jaw_Drop"}
    assert "cheekPuff" in match.unmatched and sorted(match.unused_keys) == ["eyeBlinkLeft", "jawOpen"]
    (tmp_path / "plain.json").write_text(json.dumps({"jawOpen": "Jaw_Drop"}))
    assert F.load_table(tmp_path / "plain.json") == {"jawOpen": "Jaw_Drop"}


@pytest.mark.parametrize("content, message", [
    ("{oops", "not valid JSON"),
    ('{"eyeBlinkLft": "x"}', "not an ARKit blendshape name"),
    ('{"jawOpen": ["a", "b"]}', "must name one shape key"),
    ('[1, 2]', "expected an object"),
])
def test_bad_tables_fail_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(F.FaceNameError, match=message) as err:
        F.load_table(path)
    assert "\n" not in str(err.value)
    with pytest.raises(F.FaceNameError, match="does not exist"):
        F.load_table(tmp_path / "none.json")
