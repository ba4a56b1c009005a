"""The import rules of docs/architecture.md, read from the source (every import, lazy ones too):
no backend imports another, the core imports no backend, and the layers reference ->
fast path -> graph tracing import only downwards."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BACKENDS = sorted(p.name for p in (ROOT / "backends").iterdir() if (p / "__init__.py").exists())
#: samcore package -> the samcore packages and modules it may import (besides the standard library and numpy).
LAYERS = {
    # errors and extras are leaves; transforms is ResizeLongestSide's size rule (preprocessing's).
    "samcore.spec": ("samcore.config", "samcore.errors", "samcore.extras", "samcore.transforms", "samcore.spec"),
    "samcore.fast": ("samcore.config", "samcore.spec", "samcore.fast"),
    "samcore.graph": ("samcore.config", "samcore.spec", "samcore.fast", "samcore.graph"),
}
#: What no part of samcore/ imports, even lazily (runtimes belong to backends)...
RUNTIMES = ("torch", "onnxruntime", "ai_edge_litert", "tflite_runtime", "tensorflow")
#: ...but the kit's loaders of Meta's own torch modules, the ground truth (never imported by samcore).
GROUND_TRUTH = ("samcore/conformance/official.py", "samcore/conformance/torchvision_ops.py")


def _imports(path: pathlib.Path) -> list[str]:
    """Every absolute module name a file imports, at module level or inside functions."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _modules(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(folder.rglob("*.py"))


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_backends_folder_is_found() -> None:
    assert {"samcore_onnx", "samcore_tflite", "samcore_torch"} <= set(BACKENDS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_backend_imports_another(backend: str) -> None:
    others = set(BACKENDS) - {backend}
    bad = [(p.name, n) for p in _modules(ROOT / "backends" / backend) for n in _imports(p) if _top(n) in others]
    assert not bad, f"{backend} imports other backends: {bad}"


def test_the_core_imports_no_backend_and_no_runtime() -> None:
    bad = []
    for path in _modules(ROOT / "samcore"):
        where = path.relative_to(ROOT).as_posix()
        forbidden = BACKENDS if where in GROUND_TRUTH else (*BACKENDS, *RUNTIMES)
        bad += [(where, n) for n in _imports(path) if _top(n) in forbidden]
    assert not bad, f"samcore/ imports a backend or runtime: {bad}"
    users = [p.relative_to(ROOT).as_posix() for p in _modules(ROOT / "samcore")
             if "samcore.conformance.official" in _imports(p)]
    assert not users, f"samcore imports the ground-truth loader: {users}"


@pytest.mark.parametrize("package", list(LAYERS))
def test_layers_import_only_downwards(package: str) -> None:
    folder = ROOT / package.replace(".", "/")
    allowed = LAYERS[package]
    bad = [(p.name, n) for p in _modules(folder) for n in _imports(p)
           if _top(n) == "samcore" and n != "samcore" and not n.startswith(allowed)]
    assert not bad, f"{package} may import only {allowed} of samcore, imports {bad}"


def test_the_rules_see_a_violation(tmp_path) -> None:
    """The scanner finds imports inside functions, so the rules above can fail."""
    source = tmp_path / "bad.py"
    source.write_text("def f():\n    from samcore_onnx.export import export_onnx\n    import torch.nn\n")
    assert _imports(source) == ["samcore_onnx.export", "torch.nn"]
