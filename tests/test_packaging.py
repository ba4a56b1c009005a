"""What a newcomer reads and installs: the distribution's name everywhere, the extras, the
README's set-up commands, one truth for the latency tables."""

from __future__ import annotations

import importlib.util
import json
import re
from importlib.metadata import distribution
from pathlib import Path

import tomllib

from samcore.extras import DISTRIBUTION, EXTRA_OF_MODULE

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DOCS = [ROOT / "README.md", ROOT / "backends" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_distribution_name_is_ours_and_installed() -> None:
    assert PYPROJECT["project"]["name"] == DISTRIBUTION == "segment-anything-samcore"
    installed = distribution(DISTRIBUTION)
    assert "samcore" in {ep.name for ep in installed.entry_points if ep.group == "console_scripts"}
    for extras in PYPROJECT["project"]["optional-dependencies"].values():
        assert not any(re.match(r"samcore\[", requirement) for requirement in extras)  # self-references by name


def test_every_pip_install_names_the_distribution() -> None:
    """``pip install samcore`` would fetch someone else's project."""
    sources = [*DOCS, *sorted((ROOT / "samcore").rglob("*.py")), *sorted((ROOT / "backends").rglob("*.py"))]
    lines = [(path.name, line) for path in sources for line in path.read_text().splitlines() if "pip install" in line]
    assert any(DISTRIBUTION in line for _, line in lines)
    for name, line in lines:
        for target in re.findall(r"pip install ([^\s]+(?:\s+-e\s+\S+)?)", line):
            assert not re.match(r"""['"]?samcore(\[|['"]|$)""", target), f"{name}: {line}"


def test_extras_named_in_messages_exist_and_the_readme_lists_them() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(EXTRA_OF_MODULE.values()) <= set(extras)
    readme = (ROOT / "README.md").read_text()
    for extra in ("torch", "onnx", "tflite", "conformance", "test"):
        assert re.search(rf"^\| `{extra}` \|", readme, re.M), f"README's extras table lacks {extra}"


def test_the_readme_keeps_its_two_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    main_job = 'pip install -e ".[image]" && samcore segment weights/example.png --point 67,259 -o mask.png'
    assert main_job + " --overlay overlay.png" in readme
    assert 'pip install torch==2.13.0 -e ".[test]" && python -m pytest' in readme
    assert 'python -m pytest -m "not slow"' in readme


def _table_rows(doc: Path, name: str) -> dict[str, list[str]]:
    """First cell -> the other cells of the table generated as ``name`` in ``doc``."""
    text = doc.read_text()
    start, end = text.index(f"<!-- begin: render_tables {name} -->"), text.index(f"<!-- end: render_tables {name} -->")
    block = text[start:end]
    rows = {}
    for line in block.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_latency_tables_are_rendered_from_one_record() -> None:
    spec = importlib.util.spec_from_file_location("render_tables", ROOT / "benchmarks" / "render_tables.py")
    render_tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_tables)
    record = json.loads(render_tables.RECORD.read_text())
    assert render_tables.stale_docs(record) == [], "run python benchmarks/render_tables.py"
    benchmarks = _table_rows(ROOT / "docs" / "benchmarks.md", "decoder")
    deployment = _table_rows(ROOT / "docs" / "deployment.md", "click")
    for name, label in render_tables.CLICK_ROWS.items():  # the same one-click figure in both docs
        assert deployment[label][0] == benchmarks[name][1] == render_tables._ms(record["results"][name]["1"])
