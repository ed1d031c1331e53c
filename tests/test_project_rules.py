"""Rules of the code base that a test can hold: one-way stage imports, no import loops, no bpy in
the engine, every keypoint index named in one layout module, each count defined once."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The engine's stages in the order data flows through them: a module may import its own stage and
#: earlier ones, never a later one.
STAGES = ("core", "avatar", "sources", "detect", "body", "face", "temporal", "retarget", "pipeline", "stream", "app")
PACKAGES = ("inference", "blender_addon", "operators")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (REPO / pkg).rglob("*.py") if "__pycache__" not in p.parts)


MODULES = {_module_name(p): p for p in _files(*PACKAGES)}


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """The repository modules an ``from … import …`` statement loads (submodules included)."""
    if node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    found = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    return found + ([target] if target in MODULES and len(found) < len(node.names) else [])


def import_graph() -> dict[str, set[str]]:
    """module → repository modules it imports (at module level or inside functions)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                edges.update(_resolve(module, path, node))
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in MODULES)
        edges.discard(module)
    return graph


def test_inference_never_imports_bpy():
    for path in _files("inference"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            assert not any(n == "bpy" or n.startswith("bpy.") for n in names), f"{path} imports bpy"


def test_stages_import_only_themselves_and_earlier_stages():
    bad = []
    for module, targets in import_graph().items():
        parts = module.split(".")
        if parts[0] != "inference" or len(parts) < 3:
            continue
        for target in targets:
            t = target.split(".")
            if t[0] == "inference" and len(t) > 1 and t[1] in STAGES and STAGES.index(t[1]) > STAGES.index(parts[1]):
                bad.append(f"{module} → {target}")
    assert not bad, "a stage imports a later one: " + ", ".join(bad)


def test_no_import_loops():
    graph = import_graph()
    state: dict[str, int] = {}
    loops: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(nxt_ := node, ())):
            if state.get(nxt) == 1:
                loops.append(stack[stack.index(nxt):] + [nxt])
            elif not state.get(nxt):
                visit(nxt, stack + [nxt])
        state[nxt_] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])
    assert not loops, "import loops: " + "; ".join(" → ".join(loop) for loop in loops)


def test_every_subpackage_says_what_it_does_and_holds_no_code():
    for init in (REPO / "inference").glob("*/__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree)
        assert doc and "open" in doc.lower() and len(doc.split()) >= 30, f"{init}: say what goes in, what comes out and which module to open first"
        assert len(tree.body) == 1, f"{init}: an __init__ holds its docstring only"


def _code_without_strings(path: Path) -> str:
    """The file's code with comments and string literals (docstrings included) blanked out."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING):
            out.append(" ")
        elif tok.type in (tokenize.NL, tokenize.NEWLINE):
            out.append("\n")
        else:
            out.append(tok.string + " ")
    return "".join(out)


#: Literal keypoint / joint indices that have a name in inference/core/layout.py or core/skeleton.py.
LITERAL_INDICES = [r"\b33 \+", r"\+ 33\b", r"\[ : 33 \]", r"\b33 : 75\b", r"\b33 : 54\b", r"\b54 : 75\b",
                   r"\b75 : 553\b", r"\[ : 75 \]", r"\b553\b", r"\b25 : 55\b", r"\b25 : 40\b", r"\b40 : 55\b",
                   r"\[ 11 , 12\b", r"\b23 , 24 \]", r"\b21 \* ", r"\* 21\b", r"\b15 \+ ", r"\b16 \+ ",
                   r"arange \( 11 \)", r"\[ 5 , 9 , 1[37]", r"present \[ : , 1 \+ side", r"present \[ : , [0-3] \]",
                   r"present \[ : , 1 : 3 \]", r"part_valid \[ : , [0-3] \]"]


@pytest.mark.parametrize("path", _files("inference", "blender_addon", "operators"),
                         ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_literal_keypoint_index_outside_the_layout(path):
    if path.relative_to(REPO).as_posix() in INDEX_TABLES:
        return
    code = " ".join(_code_without_strings(path).split())
    found = [p for p in LITERAL_INDICES if re.search(p, code)]
    assert not found, f"{path.relative_to(REPO)}: literal indices {found}: use the names in inference/core/layout.py"


#: Index tables by nature (the joint tree's parent list holds joint 52, not the ARKit count).
INDEX_TABLES = ("inference/core/layout.py", "inference/core/skeleton.py")


def test_counts_are_defined_once():
    definitions: dict[str, list[str]] = {"NUM_ARKIT": [], "NUM_EXPRESSION": []}
    for path in _files(*PACKAGES):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_table = path.relative_to(REPO).as_posix() in INDEX_TABLES
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name) and t.id in definitions:
                        definitions[t.id].append(str(path.relative_to(REPO)))
            # 52 is the ARKit count: only ever len(ARKIT_NAMES); the expression width is a named default
            if isinstance(node, ast.Constant) and node.value == 52 and not is_table:
                pytest.fail(f"{path.relative_to(REPO)}:{node.lineno}: literal 52: use NUM_ARKIT")
            if isinstance(node, ast.arguments):
                names = [a.arg for a in node.args + node.kwonlyargs]
                defaults = [None] * (len(node.args) - len(node.defaults)) + list(node.defaults) + list(node.kw_defaults)
                for name, default in zip(names, defaults):
                    if name == "num_expression" and isinstance(default, ast.Constant) and default.value is not None:
                        pytest.fail(f"{path.relative_to(REPO)}:{default.lineno}: num_expression={default.value}: "
                                    "default to NUM_EXPRESSION")
    assert definitions == {"NUM_ARKIT": ["inference/core/layout.py"], "NUM_EXPRESSION": ["inference/core/layout.py"]}


def test_no_licensed_model_files_committed():
    for path in REPO.rglob("*"):
        if any(part.startswith((".venv", ".git")) for part in path.parts):
            continue
        assert path.suffix not in (".pkl",) or "test" in path.name
