"""The layer contract (pyproject.toml, ``[tool.importlinter]``) holds, and a reversed import breaks it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def _copy_tree(dest: Path) -> Path:
    for name in ("dina_core", "dina_app"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_tree_keeps_every_contract(tmp_path):
    result = _lint(_copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DINA layers point down KEPT" in result.stdout
    assert "The core never imports streamlit KEPT" in result.stdout


def test_a_reversed_import_breaks_the_layers(tmp_path):
    tree = _copy_tree(tmp_path)
    fmt = tree / "dina_core" / "data" / "format.py"
    fmt.write_text(fmt.read_text() + "\nfrom dina_core.train import loop  # noqa: E402  (deliberately reversed)\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "DINA layers point down BROKEN" in result.stdout
    assert "dina_core.data.format -> dina_core.train.loop" in result.stdout


def test_streamlit_in_the_core_breaks_the_contract(tmp_path):
    tree = _copy_tree(tmp_path)
    errors = tree / "dina_core" / "errors.py"
    errors.write_text(errors.read_text() + "\nimport streamlit  # noqa: E402  (deliberately forbidden)\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "The core never imports streamlit BROKEN" in result.stdout
