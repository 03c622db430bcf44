"""Models that lie are refused where they are loaded, ranked by what their checkpoint records, and a training that
diverges stops with a clear error: weights that are not the model's (integer, NaN/Inf), preprocessing that does not
fit its neurons, a hand-edited ``run.json``, a learning rate far too high."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

from dina_core.errors import CheckpointError, DinaError
from dina_core.runs.folder import MODEL_FILE, STATE_FILE, SUMMARY_FILE
from dina_core.runs.run import check_compatible, load_run
from dina_core.runs.summary import describe

WEIGHT = "neural_tower.linear_head.weight"  # a float tensor every DINA model has


def tampered(small_run_dir, folder, change=None, summary=None):
    """A copy of the suite's small run in ``folder``; ``change`` edits model.pt's payload, ``summary`` run.json's."""
    shutil.copytree(small_run_dir[0], folder)
    if change is not None:
        payload = torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=True)
        change(payload)
        torch.save(payload, folder / MODEL_FILE)
    if summary is not None:
        info = json.loads((folder / SUMMARY_FILE).read_text())
        summary(info)
        (folder / SUMMARY_FILE).write_text(json.dumps(info))
    return folder


def weight(edit):
    """A change of model.pt that replaces WEIGHT by ``edit(WEIGHT)``."""
    return lambda p: p["state_dict"].__setitem__(WEIGHT, edit(p["state_dict"][WEIGHT].clone()))


def first_set(value):
    def edit(t):
        t.view(-1)[0] = value
        return t
    return edit


def as_ensemble(p):
    """Two members, the second holding integer weights."""
    second = {**p["state_dict"], WEIGHT: p["state_dict"][WEIGHT].round().to(torch.int64)}
    p.update(members=[p.pop("state_dict"), second], seeds=[0, 1])


def pre(field, edit):
    """A change of model.pt's preprocessing[field] (a dotted path) to ``edit(value)``."""
    def change(p):
        *parents, leaf = field.split(".")
        node = p["preprocessing"]
        for name in parents:
            node = node[name]
        node[leaf] = edit(node.get(leaf))
    return change


N = 200  # the small recording's neurons
REFUSED = {  # case: (change of model.pt, what the error says after the file's name)
    "integer weights": (weight(lambda t: t.round().to(torch.int64)),
                        rf"field 'state_dict\.{WEIGHT}': expected torch\.float32 values, as the model's, found "
                        r"torch\.int64 \(loading would cast them silently\)"),
    "NaN weight": (weight(first_set(float("nan"))), rf"field 'state_dict\.{WEIGHT}': expected finite weights, "
                   r"found 1 NaN/Inf of \d+"),
    "infinite weight": (weight(first_set(float("inf"))), r"expected finite weights, found 1 NaN/Inf"),
    "an ensemble member's integer weights": (as_ensemble, rf"field 'members\[1\]\.{WEIGHT}': expected torch\.float32"),
    "neuron index -1": (pre("neuron_indices", lambda _: [-1, *range(1, N)]),
                        r"field 'preprocessing\.neuron_indices': expected distinct columns >= 0 .*found negative "
                        r"indices \[-1\]"),
    "repeated neuron index": (pre("neuron_indices", lambda _: [0, 0, *range(2, N)]),
                              r"'preprocessing\.neuron_indices': .*found 1 repeated, e\.g\. column 0"),
    "fewer neuron indices than neurons": (pre("neuron_indices", lambda _: list(range(N - 1))),
                                          rf"'preprocessing\.neuron_indices': expected {N} integer columns .*"
                                          rf"found shape \({N - 1},\)"),
    "fractional neuron indices": (pre("neuron_indices", lambda _: [0.5] * N), r"found shape \(200,\), type float64"),
    "normaliser of another length": (pre("response_normalizer.mean", lambda m: m[:-1]),
                                     rf"field 'preprocessing\.response_normalizer\.mean': expected shape \({N},\) "
                                     rf"\(the model reads {N} neurons\), found shape \({N - 1},\)"),
    "zero standard deviation": (pre("response_normalizer.std", lambda s: [0.0, *s[1:]]),
                                r"'preprocessing\.response_normalizer\.std': expected finite values > 0 \(it divides\), "
                                r"found 1 that are not, the first 0\.0 at position 0"),
    "NaN image standard deviation": (pre("image_normalizer.std", lambda _: float("nan")),
                                     r"'preprocessing\.image_normalizer\.std': expected a finite value > 0 \(it divides\), "
                                     r"found nan"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_checkpoint_that_lies_is_refused_at_load_naming_the_field(small_run_dir, tmp_path, case):
    change, said = REFUSED[case]
    folder = tampered(small_run_dir, tmp_path / "run", change)
    with pytest.raises(CheckpointError) as err:
        load_run(folder)
    message = str(err.value)
    assert message.startswith(f"{folder / MODEL_FILE}: ") and "\n" not in message
    assert re.search(said, message), message


def test_neuron_indices_beyond_the_recording_are_refused_when_it_is_fed(small_run_dir, small_data, tmp_path):
    """Within the checkpoint they are legal (a subset of a larger recording); this recording cannot feed them."""
    folder = tampered(small_run_dir, tmp_path / "run", pre("neuron_indices", lambda _: [*range(N - 1), 10**6]))
    run = load_run(folder)
    with pytest.raises(CheckpointError, match=r"the recording has 200 \(the model reads columns 0 to 1000000\)"):
        check_compatible(run, small_data, source="small.h5")
    check_compatible(load_run(small_run_dir[0]), small_data)  # the untouched run fits


def boasting(p, *, top1=None, shuffled=None, fingerprint=None):
    """Edit a run.json (or model.pt payload) the way a hand edit would."""
    if top1 is not None:
        p["metadata"].update(best_val_top1=top1, unselected_val_top1=top1)
    if shuffled is not None:
        p["train_config"]["shuffle_pairs"] = shuffled
    if fingerprint is not None:
        p["metadata"]["data_fingerprint"] = fingerprint


def test_the_listing_takes_its_scores_from_model_pt_and_names_an_edited_run_json(small_run_dir, tmp_path):
    honest = small_run_dir[1].metadata["unselected_val_top1"]
    folder = tampered(small_run_dir, tmp_path / "run", summary=lambda s: boasting(s, top1=0.99, shuffled=True))
    listed = describe(folder)
    assert listed["problem"] is None
    assert listed["metadata"]["unselected_val_top1"] == honest and listed["best_val_top1"] != 0.99
    assert listed["shuffled"] is False
    assert re.search(rf"run\.json disagrees with model\.pt \(metadata\.unselected_val_top1 0\.99 there, {honest!r} "
                     r"here; metadata\.best_val_top1 0\.99 there, .*train_config\.shuffle_pairs True there, False "
                     r"here\): edited after training\? Listed as model\.pt records it", listed["disagreement"])
    assert describe(small_run_dir[0])["disagreement"] is None  # an untouched run agrees with itself


def test_a_checkpoint_the_listing_cannot_read_without_torch_is_listed_as_broken(small_run_dir, tmp_path):
    folder = tampered(small_run_dir, tmp_path / "run", change=lambda p: p.update(format="something-else"))
    assert re.search(r"model\.pt: field 'format': expected 'dina-checkpoint', found str 'something-else'",
                     describe(folder)["problem"])


EDITS = {  # run.json edit that would have made a weaker run (or the shuffled null) the app's default
    "claims 99%": dict(top1=0.99),
    "hides shuffled pairing": dict(shuffled=False),
}


@pytest.mark.parametrize("edit", EDITS)
def test_a_hand_edited_run_json_never_makes_a_weaker_run_the_default(small_run_dir, small_data, tmp_path,
                                                                    monkeypatch, edit):
    from dina_app import active_run, state
    from dina_core.data.format import write_dataset

    honest = small_run_dir[1].metadata["unselected_val_top1"]
    assert honest > 0.1  # clearly above chance (1/60): both runs below pass the gate
    runs = tmp_path / "runs"
    tampered(small_run_dir, runs / "stronger")
    weaker = dict(top1=honest - 0.05) if edit == "claims 99%" else dict(top1=honest + 0.05, shuffled=True)
    tampered(small_run_dir, runs / "weaker", change=lambda p: boasting(p, **weaker),
             summary=lambda s: boasting(s, **{**weaker, **EDITS[edit]}))
    monkeypatch.setenv("DINA_RUNS_DIR", str(runs))
    monkeypatch.setenv("DINA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DINA_DEMO_RUN", str(tmp_path / "no_shipped_run"))
    data_key = state.file_key(write_dataset(tmp_path / "small.h5", small_data))

    chosen, how = active_run.active(data_key)
    assert (chosen["name"], how) == ("stronger", "default")
    listed = {r["name"]: r for r in active_run.compatible_runs(data_key)}
    assert "run.json disagrees with model.pt" in active_run.describe(listed["weaker"], data_key)
    assert listed["weaker"]["disagreement"] and listed["stronger"]["disagreement"] is None


def test_a_diverging_training_stops_with_a_clear_error_and_saves_nothing(small_data, tmp_path):
    from dina_core.runs.config import TrainConfig
    from dina_core.train.loop import LOG_EVERY
    from dina_core.train.run import train_run

    steps = []
    out = tmp_path / "run"
    with pytest.raises(DinaError, match=r"^training diverged: the training loss became (NaN|infinite) by step "
                                        r"\d+ of \d+ \(epoch 1; learning rate 1e\+30, .*saved no model\. Train "
                                        r"again with a lower learning rate$") as err:
        train_run(small_data, out, kind="linear", train_config=TrainConfig(epochs=3, batch_size=32, lr=1e30),
                  on_step=lambda info: steps.append(info.loss))
    assert type(err.value).__name__ == "TrainingDiverged"
    assert len(steps) <= LOG_EVERY  # caught at the first read-back after the first step, with no sync in between
    assert np.isfinite(steps[0]) and not any(p.exists() for p in (out / MODEL_FILE, out / SUMMARY_FILE,
                                                                     out / STATE_FILE))
