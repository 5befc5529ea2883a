"""A plain (non-editable) install works: the wheel and the sdist carry every module of the tree.

The editable install CI uses maps the source folders directly, so a module that the package
metadata leaves out still imports there.  Workers do not install that way: Dataflow and Flink
install the sdist built from ``--setup_file``, and users ``pip install`` the wheel.  These tests
build both from a copy of the tree, install the wheel (no dependencies, no editable hook) into a
fresh virtual environment, import every module from it and run ``tailguard demo``.

The fresh environment gets the *dependencies* from the project's environment through a plain
path entry (a ``.pth`` line): such a line puts the directory on ``sys.path`` but does not run the
``.pth`` hooks in it, so the editable ``tailguard`` finder stays inactive, and the test checks
that every ``tailguard`` module was loaded from the fresh environment's own site-packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
from pathlib import Path

import pytest
from apache_beam.runners.portability.stager import Stager

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ("filters", "transforms", "pipelines", "configs")
_SKIP = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".*cache"
)


def _source_modules() -> list[str]:
    """Every importable module of the source tree, as ``tailguard.<folder>...`` names."""
    names = []
    for root in SOURCE_ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(("tailguard", *parts)))
    return names


def _source_copy(tmp: Path) -> Path:
    """A copy of the tree without build outputs (building writes egg-info next to setup.py)."""
    copy = tmp / "src"
    shutil.copytree(REPO, copy, ignore=_SKIP)
    return copy


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the wheel (``pip wheel --no-deps``) and the sdist (as Beam stages --setup_file)."""
    tmp = tmp_path_factory.mktemp("packaging")
    src = _source_copy(tmp)
    wheels = tmp / "W"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)],
        check=True,
        cwd=tmp,
    )
    sdists = tmp / "S"
    sdists.mkdir()
    # The very call Beam's stager makes for --setup_file (Dataflow, Flink job servers).
    sdist = Path(Stager._build_setup_package(str(src / "setup.py"), str(sdists)))
    (wheel,) = wheels.glob("tailguard-*.whl")
    return {"wheel": wheel, "sdist": sdist, "tmp": tmp}


def test_sdist_staged_for_workers_contains_every_module(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    expected = {
        str(p.relative_to(REPO))
        for root in SOURCE_ROOTS
        for p in (REPO / root).rglob("*")
        if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts
    }
    assert expected, "no source files found"
    assert sorted(expected - names) == []
    assert "setup.py" in names


def _fresh_venv(tmp: Path) -> Path:
    """A new virtual environment whose only view of the project venv is a plain path line."""
    env = tmp / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    site = Path(
        subprocess.run(
            [str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env


@pytest.mark.slow
def test_wheel_installs_imports_every_module_and_runs_the_demo(built: dict[str, Path]) -> None:
    tmp = built["tmp"]
    env = _fresh_venv(tmp)
    python = env / "bin" / "python"
    # pip of the project environment, installing into the fresh one (no deps: they come from the path line)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(built["wheel"])],
        check=True,
    )
    modules = _source_modules()
    probe = (
        "import importlib, json, sys; "
        f"names = {modules!r}; "
        "print(json.dumps({n: importlib.import_module(n).__file__ for n in names}))"
    )
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    out = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp, env=clean_env)
    files = json.loads(out.stdout)
    own_site = str(env.resolve())
    outside = {name: path for name, path in files.items() if not str(Path(path).resolve()).startswith(own_site)}
    assert outside == {}, "modules not loaded from the installed wheel"
    assert len(files) == len(modules) > 30

    demo = tmp / "D"
    run = subprocess.run(
        [str(env / "bin" / "tailguard"), "demo", "--output", str(demo)],
        cwd=tmp,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    ledger = json.loads((demo / "manifest.json").read_text())["ledger"]
    assert ledger["balanced"] is True and ledger["kept"] > 0
