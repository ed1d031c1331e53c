"""The root's ground path that keeps planted feet planted (inference/retarget/planting.py): a foot
the source keeps still stays still on a target whose hip-to-foot vectors change differently; a
foot in the air leaves the scaled path alone; a target that follows the scaled source is not
touched; one frame at a time (a live link's ticks) gives the whole clip's path."""
from __future__ import annotations

import numpy as np
import pytest

from inference.retarget.planting import CONTACT_LOW_M, CONTACT_SLOW_M_S, contact_weights, planted_path

FPS = 30.0
T = 40
REST_HEIGHT = np.array([0.08, 0.02])          # an ankle and a toe above the lowest of them, standing


def _standing(sway: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A source standing on one foot (ankle and toe planted) while its hips sway by ``sway`` (T,)
    metres along x: raw root path (T, 2), source foot points (3, T, 2), and the foot relative to
    the root head on a target whose leg takes only 80 % of the sway (other proportions)."""
    raw = np.stack([sway, np.zeros(T)], axis=1)
    source = np.zeros((3, T, 2))
    source[0] = [0.10, 0.25]
    source[2] = REST_HEIGHT
    foot = np.zeros((2, T, 2))
    foot[0] = source[0] - 0.8 * sway[:, None]
    return raw, source, foot


def test_a_planted_foot_stays_put_on_other_proportions():
    sway = 0.05 * np.sin(np.linspace(0.0, 3.0, T))
    raw, source, foot = _standing(sway)
    unplanted = raw[:, None] + np.moveaxis(foot, 0, -1)                 # (T, 2, 2) feet with the scaled path
    assert np.ptp(unplanted[..., 0], axis=0).min() > 0.009                # they slide 1 cm
    path, _ = planted_path(raw, foot, source, REST_HEIGHT, 1.0, FPS)
    feet = path[:, None] + np.moveaxis(foot, 0, -1)
    assert np.abs(feet - feet[0]).max() < 1e-12                           # now still
    assert np.allclose(path[0], raw[0])


def test_a_foot_in_the_air_leaves_the_scaled_path_alone():
    sway = np.linspace(0.0, 1.0, T)                                        # 0.75 m/s: walking pace
    raw, source, foot = _standing(sway)
    source[2, :, 0] += 0.2                                                 # the ankle is lifted …
    source[0] += sway[:, None]                                             # … and both points move with the hips
    path, _ = planted_path(raw, foot, source, REST_HEIGHT, 1.0, FPS)
    assert np.allclose(path, raw)


def test_a_target_that_follows_the_scaled_source_is_untouched():
    rng = np.random.default_rng(0)
    sway = np.cumsum(rng.normal(0.0, 0.004, T))
    raw, source, _ = _standing(sway)
    scale = 1.3
    source[:2] += rng.normal(0.0, 0.002, (2, T, 2))                        # a planted foot that slides a little
    foot = scale * source[:2] - raw.T[:, :, None]                         # the target's feet = the scaled source's
    path, _ = planted_path(raw, foot, source, REST_HEIGHT, scale, FPS)
    assert np.allclose(path, raw, atol=1e-12)


def test_one_frame_at_a_time_gives_the_clips_path():
    rng = np.random.default_rng(1)
    sway = np.cumsum(rng.normal(0.0, 0.01, T))
    raw, source, foot = _standing(sway)
    source[2, T // 2:, 0] += np.linspace(0.0, 0.1, T - T // 2)             # the heel rises: partly planted
    whole, last = planted_path(raw, foot, source, REST_HEIGHT, 1.1, FPS)
    track, ticks = None, []
    for t in range(T):
        got, track = planted_path(raw[t:t + 1], foot[:, t:t + 1], source[:, t:t + 1], REST_HEIGHT, 1.1, FPS, track)
        ticks.append(got[0])
    assert np.allclose(np.array(ticks), whole, atol=1e-12)
    assert np.allclose(track.head, last.head)


def test_contact_weights_ramp_with_height_and_speed():
    """Heights count from each point's rest height above the frame's lowest point, so an ankle
    standing 8 cm up and a toe 2 cm up are both on the floor; weights ramp between the bounds."""
    low, high = CONTACT_LOW_M
    slow, fast = CONTACT_SLOW_M_S
    source = np.zeros((3, 3, 2))
    source[2] = REST_HEIGHT
    assert np.allclose(contact_weights(source, REST_HEIGHT, FPS), 1.0)
    lifted = source.copy()
    lifted[2, 1:, 0] += (low + high) / 2                                   # halfway up the ramp
    assert contact_weights(lifted, REST_HEIGHT, FPS)[:, 0] == pytest.approx([0.5, 0.5])
    moving = source.copy()
    moving[0, :, 1] = np.arange(3) * fast / FPS                            # the toe at the "not planted" speed
    assert np.allclose(contact_weights(moving, REST_HEIGHT, FPS)[:, 1], 0.0)
    moving[0, :, 1] = np.arange(3) * slow / FPS
    assert np.allclose(contact_weights(moving, REST_HEIGHT, FPS)[:, 1], 1.0)
