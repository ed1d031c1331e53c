"""Project rules that tests enforce."""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_inference_never_imports_bpy():
    for path in (REPO / "inference").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n == "bpy" or n.startswith("bpy.") for n in names), f"{path} imports bpy"


def test_no_licensed_model_files_committed():
    for path in REPO.rglob("*"):
        if any(part.startswith((".venv", ".git")) for part in path.parts):
            continue
        assert path.suffix not in (".pkl",) or "test" in path.name
