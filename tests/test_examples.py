"""The quickstart runs as a script and as a notebook, the two hold the same cells, and the README's Python lines are
the quickstart's (so executing it executes them)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))
from build_notebook import notebook_from_script  # noqa: E402  (examples/ is not a package)

pytestmark = pytest.mark.slow


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def test_notebook_is_built_from_the_script():
    built = notebook_from_script((EXAMPLES / "quickstart.py").read_text())
    stored = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    assert _cells(stored) == _cells(built), "run `python examples/build_notebook.py` after editing quickstart.py"


def test_readme_python_lines_are_the_quickstarts():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## From Python.*?```python\n(.*?)```", readme, re.S).group(1)
    script = (EXAMPLES / "quickstart.py").read_text().splitlines()
    position = 0
    for line in (ln.split("  #")[0].rstrip() for ln in block.splitlines()):
        if line:
            matches = [i for i, s in enumerate(script[position:], position) if s.split("  #")[0].rstrip() == line]
            assert matches, f"README line not in examples/quickstart.py (in order): {line}"
            position = matches[0] + 1


def test_quickstart_script_runs(tmp_path):
    env = {**os.environ, "DINA_QUICKSTART_OUT": str(tmp_path / "figures")}
    done = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    top1, chance = map(float, re.search(r"top-1 ([\d.]+) \(chance ([\d.]+)\)", done.stdout).groups())
    assert top1 >= 3 * chance  # a real fit, far above chance
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["attribution.html", "pruning.html",
                                                                        "retrieval.html"]


def test_quickstart_notebook_executes(tmp_path):
    from nbclient import NotebookClient
    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 3  # retrieval, attribution, pruning drawn inline
