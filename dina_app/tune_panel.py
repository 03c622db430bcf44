"""The Train page's tuning panel: run ``dina tune`` in the background and offer the chosen config to the form."""

from __future__ import annotations

import json
import time
from pathlib import Path

import streamlit as st

from dina_core.model import ModelConfig
from dina_core.paths import inside
from dina_core.runs.config import TrainConfig

from . import jobs, keys, state
from .job_panel import job_progress

BUDGETS = ("5m", "15m", "30m", "60m")


def tuned_values() -> dict | None:
    """The config a finished tuning put into the form (``{'model', 'train'}``, tuples as tuples), or None."""
    tuned = st.session_state.get(keys.TUNED)
    if tuned is None:
        return None
    return {"model": ModelConfig.from_dict(tuned["model"]).to_dict(),
            "train": TrainConfig.from_dict(tuned["train"]).to_dict()}


def _adopt(config: dict) -> None:
    """Prefill the form with ``config``: its widgets are dropped so they are drawn afresh with these values."""
    prefixes = (f"{keys.TRAIN_FORM}.", f"{keys.model_form('dina')}.")
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefixes)]:
        del st.session_state[key]
    st.session_state.pop("train.kind", None)  # back to DINA, the model tuned
    st.session_state[keys.TUNED] = config


def tune_panel(data_key: state.FileKey, chance: float) -> None:
    """Budget, start button, live progress, and the finished search's table with its chosen config."""
    from dina_core.tune import parse_budget  # torch: only once the Train page draws the panel

    key = keys.tune_job(state.session_id())
    job = jobs.get(key)
    left, right = st.columns([1, 3])
    budget = left.selectbox("Budget", BUDGETS, index=1, key="train.tune_budget")
    right.caption("Trains DINA a few times, changing one setting at a time from the defaults (neuron dropout, "
                  "weight decay, trunk width, aligned stages, image-tower width), keeps each change that raises "
                  "validation retrieval (never the test set), and starts no trial the budget cannot fit.")
    if st.button("Tune on this recording", icon=":material/tune:", key="train.tune",
                 disabled=job is not None and job.live):
        out = inside(state.runs_dir(), Path("tune") / f"tune-{time.strftime('%Y%m%d-%H%M%S')}")
        work = jobs.tune_work(state.load_data(data_key), out, parse_budget(budget), {"data_path": data_key[0]})
        jobs.start(key, f"Tuning ({budget})", out, work, meta={"epochs": TrainConfig().epochs})
        st.rerun()
    if job is None:
        return
    if job.live and st.button("Stop tuning", icon=":material/stop:", key="train.tune_stop",
                              help="Ends the running trial and keeps the best configuration so far"):
        job.stop()
    job_progress(key, curves=False, chance=chance)
    result = job.snapshot()["result"]
    if not result:
        return
    st.dataframe([{"trial": t["trial"], "change": t["change"] or "defaults",
                   "val top-1 single trial": round(100 * t["val_top1_single_trial"], 1),
                   "val top-1 averaged": round(100 * t["val_top1_averaged"], 1), "seconds": round(t["seconds"]),
                   "epochs": t["epochs"], "chosen": "✓" if t["trial"] == result["chosen"] else ""}
                  for t in result["trials"]], hide_index=True)
    best = result["best_config"]
    use, download, _ = st.columns([2, 2, 3])
    if use.button("Use the chosen settings", icon=":material/check:", key="train.tune_use",
                  help="Fills the form above with them; start the training there"):
        _adopt(best)
        st.rerun()
    download.download_button("best_config.json", json.dumps(best, indent=2), "best_config.json",
                             icon=":material/download:", help="For `dina train --config best_config.json`")
