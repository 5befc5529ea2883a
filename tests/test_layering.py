"""The Beam-free core stays Beam-free: no module under filters/ imports apache_beam."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FILTERS = Path(__file__).resolve().parents[1] / "filters"


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
