"""Tests of the face stage (inference/face.py).

Synthetic tests are fast; tests on real landmarks run MediaPipe Holistic on every third frame of
the Megamind clip once per module (about 10 s) and are marked ``slow``.
"""
from __future__ import annotations

import numpy as np
import pytest
from data_paths import MEGAMIND

from inference.core.layout import ARKIT_INDEX, ARKIT_NAMES, ARKIT_UNOBSERVED, IBUG51_FROM_MEDIAPIPE
from inference.face.expression import ExpressionFitter, similarity_tangent
from inference.face.measures import MI, canonical_face, face_measures
from inference.face.solver import FaceResult, FaceSolver

EXPECTED_NAMES = [
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft",
    "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
]


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def _rot(yaw_deg: float, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    y, p, r = np.radians([yaw_deg, pitch_deg, roll_deg])
    Ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    Rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    Rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return Ry @ Rx @ Rz


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _to_pixels(c: np.ndarray, iod_px: float = 100.0, centre=(320.0, 260.0)) -> np.ndarray:
    """Canonical face points (IOD = 1, x subject's left, y up, z forward) → a frontal face in
    pixel-style coordinates (x = u, y = v down, z away from the camera)."""
    return c * iod_px * np.array([1.0, -1.0, -1.0]) + np.array([centre[0], centre[1], 0.0])


def _lip_gap(face_px: np.ndarray) -> np.ndarray:
    m, _ = face_measures(face_px)
    return m[:, MI["lip_gap"]]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _shots(face: np.ndarray) -> list[np.ndarray]:
    """Split a clip's frames at camera cuts: a jump of the face centre by more than one IOD or a
    change of the face's size by more than 25 % between consecutive frames. Returns index arrays."""
    _, _, iod = canonical_face(face)
    centre = face[:, :, :2].mean(axis=1)
    jump = np.linalg.norm(np.diff(centre, axis=0), axis=1) > iod[1:]
    resize = np.abs(np.log(iod[1:] / iod[:-1])) > np.log(1.25)
    return np.split(np.arange(len(face)), np.flatnonzero(jump | resize) + 1)


# ------------------------------------------------------------------------------------------
# real landmarks (MediaPipe on Megamind)
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def megamind() -> tuple[np.ndarray, np.ndarray]:
    """(T, 478, 3) pixel face points (u, v, z·W) and (T,) present, every 3rd frame."""
    mp = pytest.importorskip("mediapipe")
    cv2 = pytest.importorskip("cv2")
    if not MEGAMIND.exists():
        pytest.skip(f"{MEGAMIND} not found")
    cap = cv2.VideoCapture(str(MEGAMIND))
    faces, present = [], []
    with mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=1,
                                        refine_face_landmarks=True) as hol:
        i = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            if i % 3 == 0:
                H, W = bgr.shape[:2]
                r = hol.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                if r.face_landmarks is None:
                    faces.append(np.zeros((478, 3)))
                    present.append(False)
                else:
                    faces.append(np.array([[p.x * W, p.y * H, p.z * W]
                                           for p in r.face_landmarks.landmark]))
                    present.append(True)
            i += 1
    cap.release()
    face, pres = np.array(faces), np.array(present)
    assert face.shape[1:] == (478, 3) and pres.sum() > 0.8 * len(pres)
    return face, pres


@pytest.fixture(scope="module")
def frontal_base(megamind) -> np.ndarray:
    """A real face made frontal: canonical points (478, 3), IOD = 1, of a closed-mouth frame."""
    face, present = megamind
    idx = np.flatnonzero(present)
    gaps = _lip_gap(face[idx])
    c, _, _ = canonical_face(face[idx[np.argmin(gaps)]][None])
    c = c[0]
    # look straight ahead: put each iris centre on its eye-corner midpoint
    for iris, corners in ((np.arange(468, 473), [33, 133]), (np.arange(473, 478), [362, 263])):
        c[iris, :2] += c[corners, :2].mean(axis=0) - c[iris[0], :2]
    return c


@pytest.fixture(scope="module")
def megamind_batch(megamind) -> FaceResult:
    face, present = megamind
    return FaceSolver().solve_batch(face, present)


# ------------------------------------------------------------------------------------------
# names and tables
# ------------------------------------------------------------------------------------------


def test_arkit_names():
    assert len(ARKIT_NAMES) == 52 and len(set(ARKIT_NAMES)) == 52
    assert list(ARKIT_NAMES) == EXPECTED_NAMES
    assert ARKIT_INDEX["jawOpen"] == 17 and ARKIT_INDEX["tongueOut"] == 51
    assert set(ARKIT_UNOBSERVED) <= set(ARKIT_NAMES)


def test_ibug51_table():
    t = IBUG51_FROM_MEDIAPIPE
    assert t.shape == (51,) and len(set(t.tolist())) == 51
    assert t.min() >= 0 and t.max() < 468
    # iBUG 36 / 39 = the subject's right eye outer / inner corner, 45 = left outer, 48/54 mouth
    assert (t[36 - 17], t[39 - 17], t[42 - 17], t[45 - 17]) == (33, 133, 362, 263)
    assert (t[48 - 17], t[54 - 17], t[30 - 17]) == (61, 291, 4)


# ------------------------------------------------------------------------------------------
# expression fit (synthetic body model)
# ------------------------------------------------------------------------------------------


def _plausible_face51() -> np.ndarray:
    """A plausible iBUG-51 face in metres (x subject's left, y up, z forward)."""
    pts = []
    for xs in (np.linspace(-0.055, -0.012, 5), np.linspace(0.012, 0.055, 5)):   # brows 17-26
        pts += [(x, 0.032 + 0.01 * np.cos((abs(x) - 0.033) / 0.025), 0.0) for x in xs]
    pts += [(0.0, 0.012 - 0.017 * k, 0.012 + 0.01 * k) for k in range(4)]      # ridge 27-30
    pts += [(x, -0.045, 0.022 - 0.2 * abs(x)) for x in np.linspace(-0.016, 0.016, 5)]
    for cx, order in ((-0.031, (180, 120, 60, 0, 300, 240)), (0.031, (180, 120, 60, 0, 300, 240))):
        pts += [(cx + 0.015 * np.cos(np.radians(a)), 0.006 * np.sin(np.radians(a)), 0.0)
                for a in order]                                                 # eyes 36-47
    pts += [(0.025 * np.cos(np.radians(a)), -0.075 + 0.011 * np.sin(np.radians(a)), 0.012)
            for a in np.linspace(180, 0, 7)]                                    # 48-54
    pts += [(0.022 * np.cos(np.radians(a)), -0.075 - 0.012 * np.sin(np.radians(a)), 0.012)
            for a in np.linspace(30, 150, 5)]                                   # 55-59
    pts += [(0.019 * np.cos(np.radians(a)), -0.075 + 0.003 * np.sin(np.radians(a)), 0.011)
            for a in np.linspace(180, 0, 5)]                                    # 60-64
    pts += [(0.011 * np.cos(np.radians(a)), -0.075 - 0.003 * np.sin(np.radians(a)), 0.011)
            for a in (45, 90, 135)]                                             # 65-67
    P = np.array(pts, float)
    P[:, 2] -= 6.0 * P[:, 0] ** 2                                               # curved face
    assert P.shape == (51, 3)
    return P


class FakeFaceModel:
    """Stands in for the SMPL-X body model: smooth random expression directions."""

    def __init__(self, num_expression: int = 12, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.L0 = _plausible_face51()
        centres = self.L0[rng.choice(51, num_expression, replace=False)]
        d = np.zeros((51, 3, num_expression))
        for e in range(num_expression):  # a smooth bump of displacement around a random point
            w = np.exp(-np.sum((self.L0 - centres[e]) ** 2, axis=1) / (2 * 0.02 ** 2))
            d[:, :, e] = w[:, None] * rng.normal(size=3) * 0.003
        self.Ldirs = d

    def face_landmark_expression_basis(self):
        return self.L0.copy(), self.Ldirs.copy()


def _posed_landmarks(model: FakeFaceModel, psi: np.ndarray, seed: int = 1) -> np.ndarray:
    """Model landmarks for ψ (T, E) under random rotation / scale / translation, (T, 51, 3)."""
    rng = np.random.default_rng(seed)
    E = psi.shape[1]
    pts = model.L0 + np.einsum("nie,te->tni", model.Ldirs[:, :, :E], psi)
    out = np.empty_like(pts)
    for t in range(len(pts)):
        R, s, tr = _random_rotation(rng), rng.uniform(300, 3000), rng.normal(size=3) * 200
        out[t] = s * pts[t] @ R.T + tr
    return out


def test_similarity_tangent_orthonormal():
    Q = similarity_tangent(_plausible_face51())
    assert Q.shape == (153, 7)
    np.testing.assert_allclose(Q.T @ Q, np.eye(7), atol=1e-10)


def test_expression_fit_recovers_psi():
    model = FakeFaceModel()
    rng = np.random.default_rng(3)
    psi = rng.normal(size=(16, 10))
    det = _posed_landmarks(model, psi)
    # nearly unregularised: exact recovery up to the linearisation (shrinks with iterations)
    exact = ExpressionFitter(model, 10, regularization=1e-8, iterations=3).fit(det)
    assert np.abs(exact - psi).max() < 0.02
    # default regularisation: the error is the ridge bias, and the fit matches the biased
    # solution of the noiseless problem closely
    fit = ExpressionFitter(model, 10)
    est = fit.fit(det)
    Q = similarity_tangent(model.L0)
    B = model.Ldirs[:, :, :10].reshape(153, 10)
    Pb = B - Q @ (Q.T @ B)
    biased = psi @ (fit.solve_matrix @ Pb).T
    assert np.abs(est - biased).max() < 0.05
    assert np.abs(est - psi).mean() < 0.35
    assert np.corrcoef(est.ravel(), psi.ravel())[0, 1] > 0.95


def test_expression_fit_relative_to_neutral():
    """An identity offset (the subject's neutral ≠ the model's) is removed by the offset."""
    model = FakeFaceModel()
    rng = np.random.default_rng(5)
    identity = rng.normal(size=(51, 3)) * 0.002
    psi = rng.normal(size=(30, 10)) * 0.5
    psi[:15] = 0.0                                         # half the frames neutral
    pts = model.L0 + identity + np.einsum("nie,te->tni", model.Ldirs[:, :, :10], psi)
    face = np.zeros((30, 478, 3))
    face[:, IBUG51_FROM_MEDIAPIPE] = pts * 4000.0 * np.array([1.0, -1.0, -1.0])
    solver = FaceSolver(model=model, regularization=1e-6)
    res = solver.solve_batch(face, np.ones(30, bool))   # (only the 51 points are set)
    assert res.expression.shape == (30, 10) and res.expression.dtype == np.float32
    assert np.abs(res.expression[:15]).max() < 0.05
    assert np.corrcoef(res.expression[15:].ravel(), psi[15:].ravel())[0, 1] > 0.97
    # without the offset the identity leaks into the neutral frames
    plain = FaceSolver(model=model, regularization=1e-6, relative_expression=False)
    assert np.abs(plain.solve_batch(face, np.ones(30, bool)).expression[:15]).max() > 0.1
    # streaming keeps a running offset: neutral frames first, then expressions
    live = FaceSolver(model=model, regularization=1e-6)
    out = np.concatenate([live.solve_frame(f, True).expression for f in face])
    assert out.shape == (30, 10) and np.abs(out[:15]).max() < 0.05
    assert np.corrcoef(out[15:].ravel(), psi[15:].ravel())[0, 1] > 0.9


def test_expression_fit_with_generated_smplx_model(smplx_model_path):
    """The same recovery through the real body-model interface (generated test model file)."""
    from inference.body.body_model import load_smplx
    model = load_smplx(smplx_model_path)
    L0, Ldirs = model.face_landmark_expression_basis()
    E = min(10, Ldirs.shape[2])
    psi = np.random.default_rng(7).normal(size=(12, E))
    fake = FakeFaceModel()
    fake.L0, fake.Ldirs = L0, Ldirs
    det = _posed_landmarks(fake, psi)
    est = ExpressionFitter(model, E, regularization=1e-8, iterations=3).fit(det)
    assert est.shape == (12, E) and np.abs(est - psi).max() < 0.05
    res = FaceSolver(model=model).solve_batch(np.zeros((2, 478, 3)), np.zeros(2, bool))
    assert res.expression.shape == (2, E)


def test_smoothing_argument():
    with pytest.raises(ValueError):
        FaceSolver(smoothing=1.0)


def test_no_model_gives_zero_expression():
    res = FaceSolver().solve_batch(np.zeros((3, 478, 3)), np.zeros(3, bool))
    assert res.expression.shape == (3, 10) and not res.expression.any()
    assert res.arkit.shape == (3, 52) and res.jaw.shape == (3, 3) and res.eyes.shape == (3, 2, 3)
    assert not res.present.any()
    empty = FaceSolver().solve_batch(np.zeros((0, 478, 3)), np.zeros(0, bool))
    assert empty.arkit.shape == (0, 52)


# ------------------------------------------------------------------------------------------
# real landmarks
# ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_megamind_arkit_range_and_jaw(megamind, megamind_batch):
    face, present = megamind
    res = megamind_batch
    assert res.arkit.shape == (len(face), 52) and res.arkit.dtype == np.float32
    assert np.isfinite(res.arkit).all() and res.arkit.min() >= 0.0 and res.arkit.max() <= 1.0
    assert (res.present == present).all()
    assert not res.arkit[~present].any() and not res.jaw[~present].any()
    for name in ARKIT_UNOBSERVED:
        assert not res.arkit[:, ARKIT_INDEX[name]].any()
    jaw_open = res.arkit[present, ARKIT_INDEX["jawOpen"]]
    assert jaw_open.std() > 0.1                              # it is a talking clip
    assert _corr(jaw_open, _lip_gap(face[present])) > 0.3
    # the clip cuts between two characters; within a shot (one face, its own neutral) jawOpen
    # follows the lip gap closely
    idx = np.flatnonzero(present)
    shots = [s for s in _shots(face[idx]) if len(s) >= 10]
    assert len(shots) >= 3
    corrs = []
    for s in shots:
        r = FaceSolver().solve_batch(face[idx[s]], np.ones(len(s), bool))
        corrs.append(_corr(r.arkit[:, ARKIT_INDEX["jawOpen"]], _lip_gap(face[idx[s]])))
    assert min(corrs) > 0.3 and np.mean(corrs) > 0.5, corrs
    # the jaw joint follows jawOpen and stays within its bounds
    jx = res.jaw[present, 0]
    assert jx.min() >= 0.0 and jx.max() <= 0.5 + 1e-6 and _corr(jx, jaw_open) > 0.9
    assert np.abs(res.eyes).max() <= 0.5 * np.sqrt(2) + 1e-6


@pytest.mark.slow
def test_megamind_blinks(megamind, megamind_batch):
    _, present = megamind
    a = megamind_batch.arkit[present]
    bl, br = a[:, ARKIT_INDEX["eyeBlinkLeft"]], a[:, ARKIT_INDEX["eyeBlinkRight"]]
    for b in (bl, br):
        assert np.median(b) < 0.1          # eyes are open most of the time
        assert b.max() > 0.5               # the clip has blinks
        assert (b > 0.5).mean() < 0.3
    assert _corr(bl, br) > 0.5             # both eyes blink together
    # a blink is not a squint and not a wide eye
    closed = bl > 0.8
    assert closed.any() and a[closed, ARKIT_INDEX["eyeWideLeft"]].max() < 0.1


#: Channels driven by the mouth corners' measures (borrowed from the near side on a turned head).
_CORNER_CHANNELS = [ARKIT_INDEX[f"mouth{k}{s}"] for k in ("Smile", "Frown", "Stretch", "Dimple")
                    for s in ("Left", "Right")]


def test_far_mouth_corner_borrows_near_side():
    from inference.face.arkit import FAR_SIDE_YAW, borrow_near_side
    rng = np.random.default_rng(1)
    d = rng.normal(size=(4, len(MI)))
    yaw = np.array([0.0, FAR_SIDE_YAW[1] + 0.1, -(FAR_SIDE_YAW[1] + 0.1), 0.5 * sum(FAR_SIDE_YAW)])
    out = borrow_near_side(d, yaw)
    np.testing.assert_array_equal(out[0], d[0])                    # frontal: untouched
    for k in ("corner_up", "corner_out"):
        l, r = MI[f"{k}_l"], MI[f"{k}_r"]
        assert out[1, l] == pytest.approx(d[1, r]) and out[1, r] == d[1, r]   # left far: takes the right
        assert out[2, r] == pytest.approx(d[2, l]) and out[2, l] == d[2, l]   # right far: takes the left
        assert min(d[3, l], d[3, r]) < out[3, l] < max(d[3, l], d[3, r])       # half-way: a blend
    other = np.setdiff1d(np.arange(len(MI)), [MI[f"{k}_{s}"] for k in ("corner_up", "corner_out") for s in "lr"])
    np.testing.assert_array_equal(out[:, other], d[:, other])


def test_head_yaw_measure(frontal_base):
    """head_yaw is the head's turn, + towards the subject's left (the left side goes away)."""
    yaws = np.array([-40.0, -25.0, 0.0, 10.0, 30.0])
    pts = np.array([_to_pixels(frontal_base @ _rot(y, 5.0, -3.0).T) for y in yaws])
    m, _ = face_measures(pts)
    np.testing.assert_allclose(np.degrees(m[:, MI["head_yaw"]]), yaws, atol=1.0)


@pytest.mark.slow
def test_head_rotation_invariance(megamind, megamind_batch):
    face, present = megamind
    rng = np.random.default_rng(0)
    turned = face.copy()
    for t in np.flatnonzero(present):
        R = _rot(25.0 * rng.choice([-1, 1]), rng.uniform(-15, 15), rng.uniform(-10, 10))
        centre = face[t].mean(axis=0)
        turned[t] = (face[t] - centre) @ R.T * rng.uniform(0.6, 1.6) + centre + rng.normal(size=3) * 40
    res = FaceSolver().solve_batch(turned, present)
    assert np.abs(res.arkit - megamind_batch.arkit).mean() < 0.1
    # exact up to rounding, except the mouth-corner channels, whose far side borrows the near
    # side's change on a turned head (arkit.borrow_near_side)
    keep = np.setdiff1d(np.arange(len(ARKIT_NAMES)), _CORNER_CHANNELS)
    assert np.abs(res.arkit - megamind_batch.arkit)[:, keep].max() < 1e-3
    np.testing.assert_allclose(res.jaw, megamind_batch.jaw, atol=1e-4)
    np.testing.assert_allclose(res.eyes, megamind_batch.eyes, atol=1e-4)
    # streaming: one frame yawed by 25° after the same history
    s1, s2 = FaceSolver(), FaceSolver()
    idx = np.flatnonzero(present)[:40]
    for t in idx[:-1]:
        s1.solve_frame(face[t], True)
        s2.solve_frame(face[t], True)
    t = idx[-1]
    c = face[t].mean(axis=0)
    a1 = s1.solve_frame(face[t], True).arkit
    a2 = s2.solve_frame((face[t] - c) @ _rot(25.0).T * 1.3 + c, True).arkit
    assert np.abs(a1 - a2).mean() < 0.1


_LOWER_LIP = [146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324]
_UPPER_LIP = [185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415]
_CORNERS = [61, 291, 78, 308]


def _open_jaw(c: np.ndarray, angle: float) -> np.ndarray:
    """Rotate the lower face of canonical points ``c`` about a pivot near the ears (about +X by
    ``angle``: chin down and back). Lower lip and chin follow fully, the corners half, the upper
    lip not at all, the cheeks partly."""
    corner_y = c[_CORNERS, 1].mean()
    w = np.clip((corner_y - c[:, 1]) / 0.3, 0.0, 1.0)
    w[_LOWER_LIP], w[_UPPER_LIP], w[_CORNERS] = 1.0, 0.0, 0.5
    pivot = np.array([0.0, corner_y + 0.5, -1.3])
    opened = (c - pivot) @ _rot(0.0, np.degrees(angle)).T + pivot
    return c + w[:, None] * (opened - c)


@pytest.mark.slow
def test_jaw_rotation_increases_with_mouth_opening(frontal_base):
    angles = np.concatenate([np.zeros(6), np.linspace(0.0, 0.35, 8)])
    frames = np.array([_to_pixels(_open_jaw(frontal_base, a)) for a in angles])
    res = FaceSolver().solve_batch(frames, np.ones(len(frames), bool))
    jx = res.jaw[6:, 0]
    assert np.all(np.diff(jx) > 0.0) and jx[0] < 0.02 and jx[-1] > 0.15
    assert np.abs(res.jaw[:, 1]).max() < 0.02                     # no sideways jaw
    a = res.arkit[6:]
    assert np.all(np.diff(a[:, ARKIT_INDEX["jawOpen"]]) > 0.0) and a[-1, ARKIT_INDEX["jawOpen"]] > 0.5
    gap = _lip_gap(frames)
    assert np.all(np.diff(gap[6:]) > 0.0)
    # the lips part with the jaw: not "mouthClose"; the corners drop with the jaw: no smile
    assert a[:, ARKIT_INDEX["mouthClose"]].max() < 0.3
    assert a[:, [ARKIT_INDEX["mouthSmileLeft"], ARKIT_INDEX["mouthSmileRight"]]].max() < 0.3
    others = {n: float(a[:, i].max()) for n, i in ARKIT_INDEX.items() if n != "jawOpen"}
    assert max(others.values()) < 0.2, others


def _shift_and_solve(c: np.ndarray, idx, delta) -> FaceResult:
    """Five neutral frames then one with points ``idx`` moved by ``delta`` (canonical units)."""
    moved = c.copy()
    moved[np.asarray(idx)] += np.asarray(delta, float)
    frames = np.array([_to_pixels(c)] * 5 + [_to_pixels(moved)])
    return FaceSolver().solve_batch(frames, np.ones(6, bool))


@pytest.mark.slow
def test_eye_rotation_signs(frontal_base):
    c = frontal_base
    iris = np.arange(468, 478)
    base = _shift_and_solve(c, iris, (0.0, 0.0, 0.0)).eyes[-1]
    left = _shift_and_solve(c, iris, (0.05, 0.0, 0.0))          # towards the subject's left
    up = _shift_and_solve(c, iris, (0.0, 0.04, 0.0))
    # looking to the subject's left: positive rotation about +Y for both eyes
    assert (left.eyes[-1, :, 1] > base[:, 1] + 0.05).all()
    assert np.abs(left.eyes[-1, :, 0] - base[:, 0]).max() < 0.02
    a = left.arkit[-1]
    assert a[ARKIT_INDEX["eyeLookOutLeft"]] > 0.2 and a[ARKIT_INDEX["eyeLookInRight"]] > 0.2
    assert a[ARKIT_INDEX["eyeLookInLeft"]] == 0.0 and a[ARKIT_INDEX["eyeLookOutRight"]] == 0.0
    # looking up: negative rotation about +X
    assert (up.eyes[-1, :, 0] < base[:, 0] - 0.05).all()
    assert up.arkit[-1, ARKIT_INDEX["eyeLookUpLeft"]] > 0.2
    assert up.arkit[-1, ARKIT_INDEX["eyeLookDownRight"]] == 0.0
    assert np.abs(left.eyes).max() <= 0.5 * np.sqrt(2) + 1e-6


@pytest.mark.slow
def test_left_right_convention(frontal_base):
    """"Left" channels follow the subject's left (+X in the head frame = mediapipe 263 side)."""
    c = frontal_base
    smile = _shift_and_solve(c, [291, 409, 375], (0.03, 0.08, 0.0)).arkit[-1]   # left corner up
    assert smile[ARKIT_INDEX["mouthSmileLeft"]] > 0.3
    assert smile[ARKIT_INDEX["mouthSmileLeft"]] > smile[ARKIT_INDEX["mouthSmileRight"]] + 0.3
    brow = _shift_and_solve(c, [300, 293, 276, 283, 334, 282], (0.0, 0.1, 0.0)).arkit[-1]
    assert brow[ARKIT_INDEX["browOuterUpLeft"]] > 0.5 and brow[ARKIT_INDEX["browOuterUpRight"]] == 0.0
    gap = c[159, 1] - c[145, 1]
    blink = _shift_and_solve(c, [246, 161, 160, 159, 158, 157, 173],
                             (0.0, -0.8 * gap, 0.0)).arkit[-1]   # right upper lid down
    assert blink[ARKIT_INDEX["eyeBlinkRight"]] > 0.5 and blink[ARKIT_INDEX["eyeBlinkLeft"]] == 0.0


@pytest.mark.slow
def test_streaming_follows_batch(megamind, megamind_batch):
    face, present = megamind
    solver = FaceSolver(smoothing=0.3)
    frames = [solver.solve_frame(f, bool(p)) for f, p in zip(face, present)]
    arkit = np.concatenate([r.arkit for r in frames])
    assert arkit.shape == (len(face), 52) and arkit.min() >= 0.0 and arkit.max() <= 1.0
    assert not arkit[~present].any()
    j = ARKIT_INDEX["jawOpen"]
    assert _corr(arkit[present, j], megamind_batch.arkit[present, j]) > 0.7
    jaw = np.concatenate([r.jaw for r in frames])
    assert jaw.shape == (len(face), 3) and jaw[:, 0].max() <= 0.5 + 1e-6


@pytest.mark.slow
def test_missing_and_nonfinite_frames(megamind):
    face, present = megamind
    face = face[:12].copy()
    pres = present[:12].copy()
    pres[3] = False
    face[5, 100] = np.nan                                  # a broken detection counts as missing
    res = FaceSolver(smoothing=0.5).solve_batch(face, pres)
    assert not res.present[3] and not res.present[5]
    for k in (3, 5):
        assert not res.arkit[k].any() and not res.jaw[k].any() and not res.eyes[k].any()
    assert res.arkit.min() >= 0.0 and res.arkit.max() <= 1.0
    s = FaceSolver()
    assert not s.solve_frame(face[5], True).present[0]
    r = s.solve_frame(face[0], False)
    assert r.arkit.shape == (1, 52) and not r.arkit.any() and not r.present[0]


def test_face_points_from_detection():
    from inference.face.measures import face_points
    from inference.core.records import Detection
    det = Detection.empty(0.0, (640, 480))
    det.kp2d[75:, 0] = np.arange(478)
    det.kp2d[75:, 1] = 2.0 * np.arange(478)
    det.kpz[75:] = -np.arange(478)
    fp = face_points(det.kp2d[None], det.kpz[None])
    assert fp.shape == (1, 478, 3)
    np.testing.assert_array_equal(fp[0, 10], [10.0, 20.0, -10.0])
    assert face_points(det.kp2d, det.kpz).shape == (478, 3)


def _brows_after_move(c: np.ndarray, idx, delta) -> np.ndarray:
    """Brow measures (in_l, in_r, out_l, out_r) of a frame with points ``idx`` moved by ``delta``
    (canonical units) minus those of the unmoved face, both measured in one clip of 6 frames."""
    from inference.face.measures import BROW_NAMES
    moved = c.copy()
    moved[np.asarray(idx)] += np.asarray(delta, float)
    m, _ = face_measures(np.array([_to_pixels(c)] * 5 + [_to_pixels(moved)]))
    cols = [MI[n] for n in BROW_NAMES]
    return m[-1, cols] - m[0, cols]


def test_brows_are_measured_on_the_upper_face(frontal_base):
    """MediaPipe's nose tip moves when the jaw opens; that tilts the head frame's up axis (forehead
    minus nose ridge) and used to read as a brow raise. The brows are measured in the frame of
    the upper face's rigid points, so only a real brow motion moves them."""
    c = frontal_base
    tilt = _brows_after_move(c, [197, 195, 5, 4], (0.0, -0.04, 0.08))
    assert np.abs(tilt).max() < 0.003, tilt
    raise_left = _brows_after_move(c, [300, 293, 276, 283], (0.0, 0.04, 0.0))
    assert raise_left[2] > 0.035 and np.abs(raise_left[[0, 1, 3]]).max() < 0.005, raise_left


def test_held_smile_neutral_is_capped():
    """A smile held through the whole clip must not become the neutral: the corners' neutral
    height is capped at a resting mouth's (NEUTRAL_CEILING), the rest of the neutral is the clip's."""
    from inference.face.measures import NEUTRAL_CEILING, NUM_MEASURES, neutral_measures
    rng = np.random.default_rng(0)
    m = 0.1 + 0.001 * rng.standard_normal((50, NUM_MEASURES))
    m[:, [MI["corner_up_l"], MI["corner_up_r"]]] += 0.2                # corners held high
    n = neutral_measures(m)
    assert n[MI["corner_up_l"]] == NEUTRAL_CEILING["corner_up_l"]
    assert n[MI["corner_up_r"]] == NEUTRAL_CEILING["corner_up_r"]
    assert abs(n[MI["mouth_width"]] - 0.1) < 0.002
