"""Which model every page uses: a deliberate choice, remembered across reloads, with its validation score.

A run belongs to a recording by ``dina_core.data.fingerprint.recording_matches`` (strict content for
lab data, provenance for simulator output, so the shipped demo run opens on any machine). Among
those runs the active one is, in order:

1. the run chosen in this browser session ("Use this model" on the Train page);
2. the run last chosen for this recording, remembered in ``<runs folder>/active_runs.json``
   (recording identity -> run folder, written atomically);
3. by default, the shipped demo run, else the run with the best validation top-1, but only a run
   that beats chance clearly (``dina_core.evaluate.chance``): a run at chance is used only when a
   user chooses it, never silently; the shuffled-pairing null never. Scores, recording and pairing
   are those the run's ``model.pt`` records (``saved_runs.list_runs``): a hand-edited ``run.json``
   changes neither the ranking nor the gate, and is named beside the score (``describe``).

Why a file and not query parameters: a reload, a new tab, a bookmark of the root URL and a server
restart all keep the choice; query parameters would be lost by any link without them. One server is
one lab machine, so its sessions share the remembered choice (each session's own choice wins).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st

from dina_core.atomic import atomic_path
from dina_core.data.fingerprint import recording_matches
from dina_core.evaluate.chance import ValidationScore, validation_score

from . import keys, saved_runs, state

CHOICES_FILE = "active_runs.json"


def recording_id(data_key: state.FileKey) -> str:
    """What a recording's remembered choice and decks are filed under: its provenance, else its content hash."""
    ident = state.identity(data_key)  # a re-simulated demo keeps its provenance, not its content hash
    return ident.get("data_provenance") or ident["data_fingerprint"]


def compatible_runs(data_key: state.FileKey) -> list[dict]:
    """Usable ``saved_runs.list_runs()`` entries trained on this recording, newest first (broken runs never)."""
    return _compatible(saved_runs.list_runs(), data_key)


def _compatible(listed: list[dict], data_key: state.FileKey) -> list[dict]:
    ident = state.identity(data_key)
    return [r for r in listed if r["problem"] is None and recording_matches(r["metadata"], ident)]


def score(run: dict, data_key: state.FileKey) -> ValidationScore:
    """A listed run's best validation top-1 and chance (its recording is ``data_key``)."""
    return validation_score(run["metadata"], state.summary(data_key), run["validation_fraction"])


def _remembered() -> dict[str, str]:
    try:
        choices = json.loads((state.runs_dir() / CHOICES_FILE).read_text())
    except (OSError, ValueError):  # none yet, or unreadable: nothing remembered
        return {}
    if not isinstance(choices, dict):
        return {}
    return {k: v for k, v in choices.items() if isinstance(v, str)}  # a hand-edited file never breaks a page


def use(data_key: state.FileKey, run_dir: str | os.PathLike | None) -> None:
    """Make ``run_dir`` the active run for this recording (None: back to the default), here and after reloads."""
    choices = _remembered()
    if run_dir is None:
        st.session_state.pop(keys.RUN, None)
        choices.pop(recording_id(data_key), None)
    else:
        st.session_state[keys.RUN] = str(Path(run_dir).resolve())
        choices[recording_id(data_key)] = str(Path(run_dir).resolve())
    with atomic_path(state.runs_dir() / CHOICES_FILE) as tmp:
        tmp.write_text(json.dumps(choices, indent=1))


def active(data_key: state.FileKey) -> tuple[dict, str] | None:
    """(the listed run every page uses, 'chosen' or 'default'), or None when no run may be used unasked.

    A chosen run that is broken (its ``model.pt`` not a DINA checkpoint, say) stays chosen: the pages name the
    problem, rather than silently using another model."""
    listed = saved_runs.list_runs()
    runs = {str(Path(r["path"]).resolve()): r for r in _compatible(listed, data_key)}
    broken = {str(Path(r["path"]).resolve()): r for r in listed if r["problem"] is not None}
    for chosen in (st.session_state.get(keys.RUN), _remembered().get(recording_id(data_key))):
        if chosen in runs or chosen in broken:  # a chosen run broken since: the pages say why, never swap it
            return runs.get(chosen) or broken[chosen], "chosen"
    usable = [r for r in runs.values() if not r["shuffled"] and score(r, data_key).clearly_above_chance]
    usable.sort(key=lambda r: (Path(r["path"]) != state.demo_run_dir(), -(score(r, data_key).top1 or 0)))
    return (usable[0], "default") if usable else None


def active_run_key(data_key: state.FileKey) -> state.FileKey | None:
    """The cache key (``model.pt``) of the active run, or None."""
    found = active(data_key)
    return state.file_key(Path(found[0]["path"]) / "model.pt") if found else None


def describe(run: dict, data_key: state.FileKey) -> str:
    """'validation top-1 45.2% (chance 0.4%; trained level weights, ...)', with a warning when it does not beat
    chance clearly."""
    s = score(run, data_key)
    if s.top1 is None:
        return "no validation score"
    text = f"validation top-1 {100 * s.top1:.1f}% (chance {100 * s.chance:.1f}%; {s.describe()})"
    text = text if s.clearly_above_chance else text + " · not clearly above chance"
    return text + (f" · {run['disagreement']}" if run.get("disagreement") else "")
