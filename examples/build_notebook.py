"""Write ``quickstart.ipynb`` from ``quickstart.py``: one source, cells split at ``# %%`` markers.

Run ``python examples/build_notebook.py`` after editing the script; ``tests/test_examples.py`` fails while
the two differ, and executes both.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent
SCRIPT, NOTEBOOK = HERE / "quickstart.py", HERE / "quickstart.ipynb"


def notebook_from_script(text: str) -> nbformat.NotebookNode:
    """A notebook with one cell per ``# %%`` block (``# %% [markdown]`` blocks become markdown, '# ' removed)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for block in text.split("# %%")[1:]:
        header, _, body = block.partition("\n")
        body = body.strip("\n")
        if header.strip() == "[markdown]":
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines()]
            nb.cells.append(nbformat.v4.new_markdown_cell("\n".join(lines)))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(body))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # stable ids: rebuilding an unchanged script writes the same file
    return nb


def main() -> None:
    nbformat.write(notebook_from_script(SCRIPT.read_text()), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
