"""The layers contract: pipelines -> transforms -> filters, nothing upward.

An equivalent of an import-linter "layers" contract, written as an AST walk over
the tree because the import names (``tailguard.filters`` ...) are mapped from the
folders by setup.py and import-linter would need the installed package to
follow them.  Every import statement counts, including those inside functions
(lazy imports are still dependencies).  Also: the Beam-free core stays Beam-free,
and the Beam-free CLIs import no Beam.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FILTERS = REPO / "filters"
# Layer -> the tailguard layers it must never import (pipelines may import everything below it).
FORBIDDEN = {
    "filters": ("tailguard.transforms", "tailguard.pipelines"),
    "transforms": ("tailguard.pipelines",),
    "configs": ("tailguard.filters", "tailguard.transforms", "tailguard.pipelines"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_filters_module_imports_apache_beam_in_source():
    offenders = [
        str(path.relative_to(FILTERS.parent))
        for path in sorted(FILTERS.rglob("*.py"))
        if any(name == "apache_beam" or name.startswith("apache_beam.") for name in _imports(path))
    ]
    assert offenders == [], f"filters/ must not import apache_beam: {offenders}"


def test_importing_every_filters_module_does_not_load_apache_beam():
    modules = sorted(
        "tailguard." + ".".join(path.relative_to(FILTERS.parent).with_suffix("").parts).replace(".__init__", "")
        for path in FILTERS.rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'apache_beam' or m.startswith('apache_beam.'))\n"
        "print(len(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0", f"importing filters/ pulled in apache_beam: {out.stdout} {out.stderr}"


def test_filters_only_import_downward():
    offenders = [
        str(path.relative_to(FILTERS.parent))
        for path in sorted(FILTERS.rglob("*.py"))
        if any(n.startswith(("tailguard.transforms", "tailguard.pipelines")) for n in _imports(path))
    ]
    assert offenders == [], f"filters/ must not import transforms/ or pipelines/: {offenders}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_only_import_downward(layer: str) -> None:
    offenders = sorted(
        f"{path.relative_to(REPO)} imports {name}"
        for path in (REPO / layer).rglob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN[layer])
    )
    assert offenders == [], f"{layer}/ must only import downward: {offenders}"


def test_layers_contract_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from tailguard.pipelines.curate import run\n", encoding="utf-8")
    assert any(name.startswith(FORBIDDEN["transforms"]) for name in _imports(bad))


@pytest.mark.parametrize(
    "module",
    [
        "tailguard.pipelines.detector_training",
        "tailguard.pipelines.reference_cli",
        "tailguard.pipelines.collapse_bench",
    ],
)
def test_beam_free_clis_import_no_beam(module: str) -> None:
    code = f"import sys, {module}\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'apache_beam')[:3])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} imports Beam: {out.stdout}"
