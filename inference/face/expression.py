"""Face-mesh landmarks → SMPL-X expression coefficients (a linear fit to the 51 iBUG points).

In: the iBUG-51 points of each frame (T, 51, 3) and a body model with
``face_landmark_expression_basis()``; out: expression coefficients (T, E). Each frame is
similarity-aligned to the model's face, then the coefficients solve a regularised least squares.
"""
from __future__ import annotations

import numpy as np

from ..core import rotations as rot
from ..core.layout import NUM_EXPRESSION


def similarity_align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Map each frame's ``src`` points onto ``dst`` with the best similarity (Umeyama).

    src: (T, N, 3) detected points; dst: (N, 3) or (T, N, 3) template. Returns (T, N, 3): the
    source points after the scale·rotation·translation that best fits them to the template
    (least squares, no reflection).
    """
    ms = src.sum(axis=1, keepdims=True) * (1.0 / src.shape[1])
    md = dst.sum(axis=-2, keepdims=True) * (1.0 / dst.shape[-2])
    s0, d0 = src - ms, dst - md
    H = np.swapaxes(s0, 1, 2) @ d0                         # (T, 3, 3) cross-covariance
    U, S, Vt = np.linalg.svd(H)
    # no reflection: flip the weakest axis when det(H) < 0 (det U·det Vt has the sign of det H)
    det = np.einsum("ti,ti->t", H[:, 0], rot.cross(H[:, 1], H[:, 2]))
    D = np.ones((src.shape[0], 3))
    D[:, 2] = np.where(det < 0.0, -1.0, 1.0)
    R = (np.swapaxes(Vt, 1, 2) * D[:, None, :]) @ np.swapaxes(U, 1, 2)   # V diag(D) Uᵀ
    scale = (S * D).sum(axis=1) / np.maximum(np.einsum("tni,tni->t", s0, s0), 1e-300)
    return (scale[:, None, None] * s0) @ np.swapaxes(R, 1, 2) + md


def similarity_tangent(L: np.ndarray) -> np.ndarray:
    """Orthonormal basis (3N, 7) of the displacements a small similarity makes to points L (N, 3):
    translation (3), rotation (3) and scale (1), flattened like ``L.ravel()``."""
    Lc = L - L.mean(axis=0)
    cols = [np.tile(np.eye(3)[k], L.shape[0]) for k in range(3)]
    cols += [np.cross(np.eye(3)[k], Lc).ravel() for k in range(3)]
    cols.append(Lc.ravel())
    Q, _ = np.linalg.qr(np.stack(cols, axis=1))
    return Q


class ExpressionFitter:
    """Linear SMPL-X expression fit to the 51 iBUG face landmarks.

    ``model`` must provide ``face_landmark_expression_basis() -> (L0 (51, 3), Ldirs (51, 3, E))``:
    the model's neutral face landmarks in metres (rest pose) and how they move per expression
    coefficient. ``regularization`` λ is relative to the mean squared norm of a basis direction,
    so its effect does not depend on the basis' units. Per frame the detected points are
    similarity-aligned to the model's face and ψ solves the regularised least squares
    (B̃ᵀ B̃ + λ I) ψ = B̃ᵀ r, r = aligned − L0, where B̃ is ``Ldirs`` (flattened to (153, E))
    with its similarity-tangent part removed (the alignment already absorbs that part). The
    solve matrix is computed once, so a frame costs one 3×3 SVD and a (E, 153) product per
    iteration; the second iteration re-aligns to L0 + B ψ.

    Limitation: L0 and Ldirs are in the rest pose (jaw closed), so a mouth opening is partly
    explained by ψ as well as by the separate jaw rotation; if both are applied the lips may open
    a little more than detected.
    """

    def __init__(self, model, num_expression: int = NUM_EXPRESSION, regularization: float = 0.05,
                 iterations: int = 2, max_abs: float = 4.0):
        L0, Ldirs = model.face_landmark_expression_basis()
        L0 = np.asarray(L0, np.float64)
        Ldirs = np.asarray(Ldirs, np.float64)
        if L0.shape != (51, 3) or Ldirs.ndim != 3 or Ldirs.shape[:2] != (51, 3):
            raise ValueError(f"face basis must be (51, 3) and (51, 3, E), got {L0.shape}, {Ldirs.shape}")
        E = min(int(num_expression), Ldirs.shape[2])
        B = Ldirs[:, :, :E].reshape(153, E)
        # The alignment absorbs the part of each direction that a similarity could also produce;
        # solving with the directions projected off the similarity's tangent space at L0 makes one
        # align+solve pass the linearised joint (pose, ψ) solution.
        Q = similarity_tangent(L0)
        Pb = B - Q @ (Q.T @ B)
        BtB = Pb.T @ Pb
        lam = regularization * float(np.trace(BtB)) / E
        self.L0 = L0
        self.B = B                                         # (153, E)
        self.solve_matrix = np.linalg.solve(BtB + lam * np.eye(E), Pb.T)   # (E, 153)
        self.num_expression = E
        self.iterations = max(1, int(iterations))
        self.max_abs = float(max_abs)

    def residuals(self, points: np.ndarray, template: np.ndarray | None = None) -> np.ndarray:
        """Detected points aligned to ``template`` (default L0) minus L0. (T, 51, 3) → (T, 153)."""
        tpl = self.L0 if template is None else template
        return (similarity_align(points, tpl) - self.L0).reshape(points.shape[0], 153)

    def fit(self, points: np.ndarray, offset: np.ndarray | None = None,
            return_residual: bool = False):
        """Expression coefficients per frame.

        points: (T, 51, 3) detected iBUG-51 points in any similarity frame (e.g. face axes in
        pixels). offset: optional (153,) neutral residual of this subject (landmark-definition
        and identity differences, e.g. the median of :meth:`residuals`), subtracted before
        solving so that the subject's neutral gives ψ = 0. Returns (T, E) float64 clipped to
        ± ``max_abs``; with ``return_residual`` also the first pass's aligned points minus L0
        (T, 153) (≈ :meth:`residuals`, used to keep a running offset without another alignment).
        """
        pts = np.asarray(points, np.float64)
        T = pts.shape[0]
        base = self.L0 if offset is None else self.L0 + np.reshape(offset, (51, 3))
        psi = np.zeros((T, self.num_expression))
        first = None
        for it in range(self.iterations):
            tpl = base if it == 0 else base + (psi @ self.B.T).reshape(T, 51, 3)
            aligned = similarity_align(pts, tpl)
            if it == 0:
                first = (aligned - self.L0).reshape(T, 153)
            psi = (aligned - base).reshape(T, 153) @ self.solve_matrix.T
        psi = np.clip(psi, -self.max_abs, self.max_abs)
        return (psi, first) if return_residual else psi


