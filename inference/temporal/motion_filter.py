"""The whole SMPL-X frame through One-Euro filters: rotations, root, expression, ARKit.

In: per frame the 55 local rotations (x, y, z, w), the root translation, the expression and ARKit
weights and which parts were seen; out: the same, filtered, with parts that leave the picture held
(the body) or faded to a neutral (hands, face) and eased back in when they return.
:class:`MotionFilter` streams (``step``) and runs over clips (``filter_sequence``).

Smoothing → One-Euro settings (``MotionFilter(smoothing=s)``, s in [0, 1]). Each signal has
mid settings (used at s = 0.5)::

    signal                          min_cutoff (Hz)   beta            units of beta
    root translation                1.0               6.0             Hz per m/s
    body joints 0..21               1.5               5.0             Hz per rad/s
    finger joints 25..54            2.5               6.0             Hz per rad/s
    jaw / eyes 22..24               3.0               0.6             Hz per rad/s
    expression, ARKit weights       4.0               1.0             Hz per unit/s

and ``min_cutoff(s) = mid * 16 ** (1 - 2s)`` for s <= 0.5, ``mid * 4 ** (1 - 2s)`` above, and
``beta(s) = mid * 3 ** (1 - 2s)``; ``d_cutoff`` = 1 Hz throughout. So s = 0 gives 16x the cutoff
(24 Hz for the body: alpha ≈ 0.83 at 30 fps, almost no filtering) and 3x the beta; s = 1 gives a
quarter of the cutoff (0.375 Hz for the body) and a third of the beta: heavy smoothing. Fingers and
the face are faster signals than the body and get higher cutoffs (less lag) at every setting.
"""
from __future__ import annotations

import numpy as np

from ..core.layout import NUM_ARKIT, NUM_EXPRESSION, NUM_PARTS, PART_BODY, PART_FACE, PART_LEFT_HAND, PART_RIGHT_HAND
from ..core.rotations import quat_exp, quat_normalize, rowdot, slerp
from ..core.skeleton import DEFAULT_REST, FINGERS, JOINT_INDEX, JOINT_PART, NUM_JOINTS
from .one_euro import OneEuroParams, one_euro_update, quat_one_euro_update



_JOINT_ONEHOT = np.eye(NUM_PARTS)[JOINT_PART]             # (55, 4)


#: (min_cutoff Hz, beta) of each signal at smoothing 0.5; see the module docstring.
SIGNAL_DEFAULTS = {
    "root_translation": (1.0, 6.0),
    "body": (1.5, 5.0),
    "fingers": (2.5, 6.0),
    "face_joints": (3.0, 0.6),
    "expression": (4.0, 1.0),
}


#: A finger joint's measurement is taken at most c ** (k RATE_POWER) * FINGER_MAX_RATE * dt radians
#: from the last output, c its hand's confidence (``hand_confidence``, from
#: :func:`~inference.body.hands.hand_confidence`: a small hand's landmarks jitter by a large share
#: of its bones) and k the filter's ``confidence_strength`` (default 2 x smoothing: none at
#: smoothing 0, as written at the default 0.5). A phalanx flipped for a frame, and the jitter, then
#: move it (and the One-Euro speed that would open the filter to them) by a bounded step; a clear
#: hand's fingers move freely.
FINGER_MAX_RATE, RATE_POWER = 24.0, 2.0          # rad/s
#: Seconds a lost hand is held as it was (fingers and wrist) before it fades; one found again within
#: this is filtered on as if it had never gone.
HAND_HOLD_S = 0.25
#: (2,) the wrists of the left and right hand: they take their rotation from the hand's landmarks
#: while the hand is found and from the pose model's knuckles otherwise, so they are held while
#: their hand is held and eased in (``blend_time``) each time its detection goes or comes back.
WRISTS = np.array([JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]])
_HAND_PARTS = np.array([PART_LEFT_HAND, PART_RIGHT_HAND])


def params_for(smoothing: float, min_cutoff_mid: float, beta_mid: float,
               d_cutoff: float = 1.0) -> OneEuroParams:
    """One-Euro settings of a signal at ``smoothing`` in [0, 1] (0 ≈ none, 0.5 = the mid settings,
    1 = heavy); see the mapping in the module docstring."""
    s = float(np.clip(smoothing, 0.0, 1.0))
    k = 16.0 if s <= 0.5 else 4.0
    return OneEuroParams(min_cutoff=min_cutoff_mid * k ** (1.0 - 2.0 * s),
                         beta=beta_mid * 3.0 ** (1.0 - 2.0 * s), d_cutoff=d_cutoff)


# Relaxed finger curl (radians of flexion at joints 1, 2, 3 of each finger). Flexion bends each
# phalanx toward the palm (-Y in the palm-down rest pose) about the axis  bone_dir × (-Y):  -Z for
# the left hand's fingers (which point +X), +Z for the right hand's (which point -X), and about a
# tilted axis for the thumb. The cascade (more curl toward the pinky) is a natural resting hand.
RELAXED_CURL = {
    "index": (0.10, 0.15, 0.10), "middle": (0.15, 0.20, 0.10), "ring": (0.20, 0.25, 0.12),
    "pinky": (0.25, 0.30, 0.15), "thumb": (0.05, 0.10, 0.10),
}


def relaxed_hand_pose() -> np.ndarray:
    """(55, 4) float64 local quaternions: identity except a gentle natural finger curl
    (:data:`RELAXED_CURL`), mirrored between the hands. The default neutral of a lost hand."""
    q = np.zeros((NUM_JOINTS, 4))
    q[:, 3] = 1.0
    palm = np.array([0.0, -1.0, 0.0])
    for side in ("left", "right"):
        for finger in FINGERS:
            idx = [JOINT_INDEX[f"{side}_{finger}{k}"] for k in (1, 2, 3)]
            for k, j in enumerate(idx):
                a, b = (idx[k], idx[k + 1]) if k < 2 else (idx[1], idx[2])
                d = DEFAULT_REST[b] - DEFAULT_REST[a]
                axis = np.cross(d, palm)
                axis /= np.linalg.norm(axis)
                q[j] = quat_exp(axis * RELAXED_CURL[finger][k])
    return q


class MotionFilter:
    """Temporal filter of the solved SMPL-X motion, streaming (:meth:`step`) or batch
    (:meth:`filter_sequence`).

    smoothing: 0 (almost none) … 1 (heavy), see the module docstring. fade_time: seconds, time
    constant of the fade of a missing hand / face to its neutral. relaxed_pose: (55, 4) quaternions
    whose hand joints are the neutral of a lost hand (default :func:`relaxed_hand_pose`).
    num_expression: E, length of the expression vector. blend_time: seconds over which a part that
    comes back is blended in (its smoothing weight ramps from 0 to full, quadratic ease-in).
    snap_first_hands: see below. confidence_strength: how much ``hand_confidence`` counts (see
    :data:`FINGER_MAX_RATE`; default 2 x smoothing).

    Parts (``part_valid`` order body, left_hand, right_hand, face):
    body = joints 0..21 + root translation; left_hand = 25..39; right_hand = 40..54;
    face = joints 22..24 (jaw, eyes) + expression + ARKit weights.

    Per part and frame:

    * valid → One-Euro filtered (per-signal settings).
    * not valid (or any NaN / inf / zero quaternion in its inputs) → held at its last output and
      faded toward its neutral, weight ``1 - exp(-dt / fade_time)`` per step (slerp for rotations):
      hands → ``relaxed_pose``; face → identity jaw / eyes, zero expression and ARKit weights.
      The body is held WITHOUT fading (the last pose and root translation stay).
    * valid again → the filter restarts from the held value with zero speed and its smoothing
      weight ramps in over ``blend_time``, so the part eases toward the measurement, never snaps.
    * a hand lost for at most :data:`HAND_HOLD_S` is held (no fade), its wrist too, and when found
      again within it simply filtered on; its wrist eases in over ``blend_time`` each time the
      hand's detection goes or comes back (:data:`WRISTS`).
    * ``hand_confidence`` (2,) in [0, 1] per step: lower bounds how far that hand's fingers move
      per second (:data:`FINGER_MAX_RATE`).
    * before a part's first valid frame it outputs its neutral (body: identity, zero translation);
      the body's first valid frame (and the face valid on the very first step) is taken as is;
      hands valid on the very first step ease in from their neutral like a hand that appears
      (``snap_first_hands`` False; the default above smoothing 0) or are taken as is (True).

    Outputs never contain NaN. Rotations are unit quaternions whose sign follows the previous
    output (no flips between frames).
    """

    def __init__(self, smoothing: float = 0.5, fade_time: float = 0.6,
                 relaxed_pose: np.ndarray | None = None, num_expression: int = NUM_EXPRESSION,
                 blend_time: float = 0.5, snap_first_hands: bool | None = None,
                 confidence_strength: float | None = None):
        self.smoothing = float(smoothing)
        self.snap_first_hands = bool(self.smoothing <= 0.0 if snap_first_hands is None else snap_first_hands)
        self.confidence_strength = float(2.0 * np.clip(smoothing, 0.0, 1.0) if confidence_strength is None
                                         else confidence_strength)
        self.fade_time = float(fade_time)
        self.blend_time = float(blend_time)
        self.num_expression = int(num_expression)
        E = self.num_expression

        neutral = relaxed_hand_pose() if relaxed_pose is None else quat_normalize(
            np.asarray(relaxed_pose, dtype=np.float64).reshape(NUM_JOINTS, 4))
        hands = (JOINT_PART == PART_LEFT_HAND) | (JOINT_PART == PART_RIGHT_HAND)
        self.neutral_quat = np.where(hands[:, None], neutral, np.array([0.0, 0.0, 0.0, 1.0]))

        # Per-joint rotation settings and per-channel Euclidean settings ([trans | expr | arkit]).
        def per(group_params: list[tuple[np.ndarray, str]], n: int) -> OneEuroParams:
            fc, beta = np.empty(n), np.empty(n)
            for mask, name in group_params:
                p = params_for(self.smoothing, *SIGNAL_DEFAULTS[name])
                fc[mask], beta[mask] = p.min_cutoff, p.beta
            return OneEuroParams(min_cutoff=fc, beta=beta, d_cutoff=1.0)

        self.rot_params = per([(JOINT_PART == PART_BODY, "body"), (hands, "fingers"),
                               (JOINT_PART == PART_FACE, "face_joints")], NUM_JOINTS)
        self.num_channels = 3 + E + NUM_ARKIT
        self.channel_part = np.full(self.num_channels, PART_FACE, dtype=np.int64)
        self.channel_part[:3] = PART_BODY
        self.vec_params = per([(self.channel_part == PART_BODY, "root_translation"),
                               (self.channel_part == PART_FACE, "expression")], self.num_channels)
        self._channel_onehot = np.eye(NUM_PARTS)[self.channel_part]  # (C, 4): sums per part as one product
        self._fading_joint = JOINT_PART != PART_BODY          # the body holds, everything else fades
        self._hand_joints = (JOINT_PART == PART_LEFT_HAND, JOINT_PART == PART_RIGHT_HAND)
        self._fingers = self._hand_joints[0] | self._hand_joints[1]
        self._fading_channel = self.channel_part != PART_BODY
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next step is a first frame."""
        self._t: float | None = None
        self._q = self.neutral_quat.copy()                 # (55, 4) last output
        self._w = np.zeros((NUM_JOINTS, 3))                # (55, 3) filtered angular velocity
        self._x = np.zeros(self.num_channels)              # (C,) last output [trans|expr|arkit]
        self._dx = np.zeros(self.num_channels)             # (C,) filtered derivative
        self._seen = np.zeros(NUM_PARTS, dtype=bool)               # part has had a valid frame
        self._since = np.zeros(NUM_PARTS)                          # s since the part (re)appeared
        self._gone = np.full(2, np.inf)                            # s since each hand was last found
        self._gone_found = np.full(2, np.inf)                      # the same for the hand's detection
        self._wrist_since = np.full(2, np.inf)                     # s since each wrist's hand went / came
        self._wrist_held = np.zeros(2, dtype=bool)

    def _outputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        E = self.num_expression
        return self._q.copy(), self._x[:3].copy(), self._x[3:3 + E].copy(), self._x[3 + E:].copy()

    def step(self, t: float, local_quat: np.ndarray, trans: np.ndarray, expression: np.ndarray,
             arkit: np.ndarray, part_valid: np.ndarray, hand_confidence: np.ndarray | None = None,
             hand_found: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Filter one frame, in streaming order.

        t: seconds (real timestamp); local_quat: (55, 4) x, y, z, w; trans: (3,) metres;
        expression: (E,); arkit: (52,); part_valid: (4,) bool body / left hand / right hand / face;
        hand_confidence: (2,) in [0, 1] or None (see the class docstring); hand_found: (2,) bool,
        whether the detector found each hand (default: its ``part_valid``; the batch path bridges
        short gaps of a hand, which are then valid but not found).
        Returns (local_quat (55, 4), trans (3,), expression (E,), arkit (52,)) float64, filtered.
        A t not after the previous frame's returns the previous output and changes nothing.
        """
        q = np.asarray(local_quat, dtype=np.float64).reshape(NUM_JOINTS, 4)
        x = np.concatenate([np.asarray(trans, dtype=np.float64).reshape(3),
                            np.asarray(expression, dtype=np.float64).reshape(self.num_expression),
                            np.asarray(arkit, dtype=np.float64).reshape(NUM_ARKIT)])
        t = float(t)

        # Validity: the flag, and every value of the part finite, every quaternion non-zero.
        norm2 = rowdot(q, q)                                           # (55, 1); NaN / inf propagate
        good_joint = (norm2 > 1e-12) & (norm2 < np.inf)
        bad = (~good_joint[:, 0] @ _JOINT_ONEHOT + ~np.isfinite(x) @ self._channel_onehot) > 0
        valid = np.asarray(part_valid, dtype=bool).reshape(NUM_PARTS) & ~bad
        vj = valid[JOINT_PART]                                          # (55,)
        vc = valid[self.channel_part]                                   # (C,)
        # Unit length, on the previous output's side of the double cover; invalid entries are
        # replaced by the held output so the vectorised maths stays finite.
        vjc = vj[:, None]
        scale = np.where(rowdot(q, self._q) < 0.0, -1.0, 1.0) / np.sqrt(np.where(vjc, norm2, 1.0))
        q = np.where(vjc, q * scale, self._q)
        x = np.where(vc, x, self._x)

        if self._t is None:                                # first frame: valid parts as measured
            if not np.isfinite(t):
                return self._outputs()
            self._t = t
            ease = ~valid.copy()
            if not self.snap_first_hands:                  # a stream's first hand may be an outlier
                ease[_HAND_PARTS] = True
            self._q = np.where(ease[JOINT_PART][:, None], self._q, q)
            self._x = x
            self._seen = valid.copy()
            self._since = np.where(ease, 0.0, np.inf)
            self._gone = np.where(valid[_HAND_PARTS], 0.0, np.inf)
            found = valid[_HAND_PARTS] if hand_found is None else np.asarray(hand_found, bool).reshape(2)
            self._gone_found = np.where(found & valid[_HAND_PARTS], 0.0, np.inf)
            return self._outputs()

        dt = t - self._t
        if not dt > 0.0:                                   # duplicate / backwards / NaN time
            return self._outputs()
        self._t = t

        # Hands lost for a moment are held, fingers and wrist; found again within HAND_HOLD_S they
        # go on as if never lost. A wrist is held while its hand's detection is (``hand_found``)
        # and eases in from where it was held each time that detection goes or comes back.
        hand_valid = valid[_HAND_PARTS]
        found = hand_valid if hand_found is None else np.asarray(hand_found, bool).reshape(2) & hand_valid
        gone = np.where(hand_valid, 0.0, self._gone + dt)
        held = ~hand_valid & (gone <= HAND_HOLD_S) & valid[PART_BODY]
        gone_found = np.where(found, 0.0, self._gone_found + dt)
        wrist_held = ~found & (gone_found <= HAND_HOLD_S) & valid[PART_BODY]
        event = (found != (self._gone_found == 0.0)) | (wrist_held != self._wrist_held)
        wrist_since = np.where(event, 0.0, self._wrist_since + dt)
        vj = vj.copy()
        vj[WRISTS] &= ~wrist_held

        # Parts easing back in: smoothing weight ramps in (quadratic ease-in) over blend_time.
        back_soon = np.zeros(NUM_PARTS, dtype=bool)
        back_soon[_HAND_PARTS] = hand_valid & (self._gone > 0.0) & (self._gone <= HAND_HOLD_S)
        since = np.where(valid, np.where(back_soon, np.maximum(self._since, self.blend_time), self._since) + dt, 0.0)
        ramp = (lambda s_: np.minimum(s_ / self.blend_time, 1.0) ** 2) if self.blend_time > 0 else np.ones_like
        gain = ramp(since)
        gain_j = gain[JOINT_PART]
        gain_j[WRISTS] = np.minimum(gain_j[WRISTS], ramp(wrist_since))
        max_step = None
        if hand_confidence is not None and self.confidence_strength > 0:
            ch = np.clip(np.asarray(hand_confidence, np.float64).reshape(2), 0.0, 1.0) ** self.confidence_strength
            c = np.zeros(NUM_JOINTS)
            c[self._hand_joints[0]], c[self._hand_joints[1]] = ch
            max_step = np.where(self._fingers, c ** RATE_POWER * FINGER_MAX_RATE * dt, np.inf)
        q_new, w_new = quat_one_euro_update(q, self._q, self._w, dt, self.rot_params, gain_j, max_step)
        x_new, dx_new = one_euro_update(x, self._x, self._dx, dt, self.vec_params,
                                        gain[self.channel_part])

        # The body's first valid frame is taken as measured (nothing sensible to ease from).
        snap = valid & ~self._seen
        snap[1:] = False
        if snap[PART_BODY]:
            sj, sc = JOINT_PART == PART_BODY, self.channel_part == PART_BODY
            q_new[sj], w_new[sj] = q[sj], 0.0
            x_new[sc], dx_new[sc] = x[sc], 0.0
            since[PART_BODY] = np.inf

        # Missing parts: hold (body) or fade toward neutral (hands, face), with zero speed.
        if not (valid.all() and vj.all()):
            wf = 1.0 - np.exp(-dt / self.fade_time) if self.fade_time > 0 else 1.0
            fj = ~vj & self._fading_joint
            fj[self._hand_joints[0]] &= ~held[0]
            fj[self._hand_joints[1]] &= ~held[1]
            hold_q = self._q
            if fj.any():
                hold_q = np.where(fj[:, None], slerp(self._q, self.neutral_quat, wf), self._q)
            hold_x = np.where(~vc & self._fading_channel, self._x * (1.0 - wf), self._x)
            q_new = np.where(vj[:, None], q_new, hold_q)
            w_new = np.where(vj[:, None], w_new, 0.0)
            x_new = np.where(vc, x_new, hold_x)
            dx_new = np.where(vc, dx_new, 0.0)

        self._q, self._w, self._x, self._dx = q_new, w_new, x_new, dx_new
        self._seen |= valid
        self._since = since
        self._gone, self._gone_found, self._wrist_since, self._wrist_held = gone, gone_found, wrist_since, wrist_held
        return self._outputs()

    def filter_sequence(self, times: np.ndarray, local_quat: np.ndarray, trans: np.ndarray,
                        expression: np.ndarray, arkit: np.ndarray, part_valid: np.ndarray,
                        reset: bool = True, hand_confidence: np.ndarray | None = None,
                        hand_found: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Batch form: exactly :meth:`step` over the frames (after :meth:`reset` unless
        ``reset=False``, which continues the stream).

        times: (T,); local_quat: (T, 55, 4); trans: (T, 3); expression: (T, E); arkit: (T, 52);
        part_valid: (T, 4) bool; hand_confidence, hand_found: (T, 2) or None. Returns (local_quat (T, 55, 4), trans (T, 3), expression (T, E),
        arkit (T, 52)) float64.
        """
        if reset:
            self.reset()
        T = len(times)
        out_q = np.empty((T, NUM_JOINTS, 4))
        out_t = np.empty((T, 3))
        out_e = np.empty((T, self.num_expression))
        out_a = np.empty((T, NUM_ARKIT))
        for i in range(T):
            out_q[i], out_t[i], out_e[i], out_a[i] = self.step(
                times[i], local_quat[i], trans[i], expression[i], arkit[i], part_valid[i],
                None if hand_confidence is None else hand_confidence[i],
                None if hand_found is None else hand_found[i])
        return out_q, out_t, out_e, out_a
