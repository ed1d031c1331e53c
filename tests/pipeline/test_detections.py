"""The detections cache beside a bake: written atomically, read back exactly, bad caches refused."""
import numpy as np
import pytest

from inference.core.errors import InputError
from inference.core.layout import NUM_BODY, NUM_KEYPOINTS, NUM_PARTS
from inference.core.records import Camera, DetectionSeq
from inference.pipeline.detections import load_detections, save_detections


def _seq(T: int = 5) -> DetectionSeq:
    rng = np.random.default_rng(1)
    return DetectionSeq(times=np.arange(T) / 30.0, image_size=(640, 480),
                        kp2d=rng.uniform(size=(T, NUM_KEYPOINTS, 3)).astype(np.float32),
                        kpz=rng.normal(size=(T, NUM_KEYPOINTS)).astype(np.float32),
                        world=rng.normal(size=(T, NUM_BODY, 3)).astype(np.float32),
                        present=rng.uniform(size=(T, NUM_PARTS)) > 0.3)


def test_round_trip(tmp_path):
    seq, cam = _seq(), Camera.from_fov(640, 480, 55.0)
    save_detections(tmp_path / "d.npz", seq, cam, source="clip.mp4")
    back, cam2 = load_detections(tmp_path / "d.npz")
    for key in ("times", "kp2d", "kpz", "world", "present"):
        np.testing.assert_array_equal(getattr(back, key), getattr(seq, key))
    assert back.image_size == (640, 480) and cam2.size == cam.size
    np.testing.assert_array_equal(cam2.K, cam.K)


def test_bad_caches_are_refused_in_one_line(tmp_path):
    np.savez(tmp_path / "short.npz", times=np.zeros(2))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    seq = _seq()
    save_detections(tmp_path / "shape.npz", seq[:3], Camera.from_fov(640, 480, 60.0))
    with np.load(tmp_path / "shape.npz") as d:
        arrays = dict(d)
    arrays["kp2d"] = arrays["kp2d"][:, :100]
    np.savez(tmp_path / "shape.npz", **arrays)
    for name, words in (("missing.npz", "does not exist"), ("short.npz", "lacks"), ("junk.npz", "not a readable"),
                        ("shape.npz", "kp2d of shape")):
        with pytest.raises(InputError) as err:
            load_detections(tmp_path / name)
        assert words in str(err.value) and "\n" not in str(err.value)
