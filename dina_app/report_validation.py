"""The report's model-validation section: the newest validation of the recording, its table and layer profile.

The same folders, table and figure as the Model validation page (``model_validation_results``); a validation whose
``validation.json`` does not load is passed over for the newest one that does.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from dina_core.errors import DinaError

from . import model_validation_results as R

TITLE = "Model validation: layer profile"


def latest(runs_dir: Path, fingerprint: str) -> dict | None:
    """{'folder', 'result'} of the newest loadable validation of the recording ``fingerprint``, or None."""
    for folder in R.folders(runs_dir, fingerprint):
        try:
            return {"folder": str(folder), "result": R.load(folder)}
        except DinaError:
            continue
    return None


def section(validation: dict) -> tuple[str, str, go.Figure]:
    """(title, caption, figure) of the single-trial layer profile."""
    return (TITLE, "Single-trial response → image top-1 at each validated layer, in running order (95% intervals "
                   "over images); dashed: random-weight controls; dotted: the noise ceiling, DINA and the pixel level.",
            R.profile(validation["result"], "single_trial"))


def summary(validation: dict) -> str:
    """One paragraph (plain text) saying what the table holds and where it came from."""
    result = validation["result"]
    best = "; ".join(f"{R.short(row['model'])}: {row['layer']}" for row, _ in R.best_rows(result)) or "none"
    return (f"Validation {Path(validation['folder']).name}: each layer's maps pooled to {result['grid'][0]} x "
            f"{result['grid'][1]} locations, a neural tower aligned with them, top-1 % among the test images with "
            f"95% intervals over images; 'of ceiling': top-1 over the noise ceiling's. Best layers: {best}.")


def table(validation: dict) -> tuple[list[str], list[list]]:
    """(header, rows) of the per-layer table (``model_validation_results.table_rows``), '–' where empty."""
    rows = R.table_rows(validation["result"])
    header = list(rows[0]) if rows else []
    return header, [["–" if v is None else v for v in row.values()] for row in rows]
