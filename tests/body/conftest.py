"""The solver's two backends, for tests that run over both: the numpy solve (:mod:`inference.body.solve`
with :mod:`inference.body.lifting`) and its compiled twin (:mod:`inference.body.solve_numba`), whose
public functions are named and called alike."""
from types import SimpleNamespace

import pytest

from inference.body import lifting, solve, solve_numba

#: What both backends provide, by the same names.
API = ("solve_skeleton", "limit_pose", "collar_rhythm", "lifting_passes")
BACKENDS = {
    "numpy": SimpleNamespace(name="numpy", **{f: getattr(lifting if f == "lifting_passes" else solve, f) for f in API}),
    "numba": SimpleNamespace(name="numba", **{f: getattr(solve_numba, f) for f in API}),
}


@pytest.fixture(params=list(BACKENDS))
def backend(request) -> SimpleNamespace:
    """Each backend in turn (a test using it runs once per backend)."""
    return BACKENDS[request.param]


@pytest.fixture
def backends() -> dict[str, SimpleNamespace]:
    """Both backends at once, by name (``"numpy"`` the reference, ``"numba"`` the compiled twin)."""
    return BACKENDS
