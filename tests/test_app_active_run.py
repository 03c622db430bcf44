"""Which model DINA Studio's pages use: a run at chance is offered, never adopted silently; a choice is deliberate,
shown in the sidebar with its validation score, and survives a reload (a new browser session)."""

from __future__ import annotations

import json
import shutil

from streamlit.testing.v1 import AppTest

from dina_app import keys
from test_app_pages import APP, TIMEOUT, open_page, studio  # noqa: F401  (the app's environment on the small demo)


def sidebar() -> str:
    """The sidebar of a new session at the app's root (AppTest's ``switch_page`` runs a page without app.py)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    return "\n".join(m.value for m in at.sidebar.markdown)


def test_a_chance_level_run_is_offered_and_a_deliberate_choice_is_remembered(studio, small_run_dir):  # noqa: F811
    from dina_app.active_run import CHOICES_FILE

    chance_run = studio / "runs" / "one-epoch"
    shutil.copytree(small_run_dir[0], chance_run)
    info = json.loads((chance_run / "run.json").read_text())
    info["metadata"]["best_val_top1"] = info["metadata"]["unselected_val_top1"] = 1 / 60  # one of 60 images: chance
    (chance_run / "run.json").write_text(json.dumps(info))
    try:
        shipped_top1 = 100 * small_run_dir[1].metadata["unselected_val_top1"]  # the score no weight search chose
        assert (f"**shipped demo run** (default)  \nvalidation top-1 {shipped_top1:.1f}% (chance 1.7%; trained level "
                "weights, before validation chose them)") in sidebar()

        at = open_page("train")
        runs = at.selectbox(key="train.chosen")
        runs.select_index(runs.options.index("one-epoch")).run()
        assert any("**one-epoch**: validation top-1 1.7% (chance 1.7%; trained level weights, before validation chose them) · "
                   "not clearly above chance" in m.value
                   for m in at.markdown)
        at.button(key="train.use").click().run()
        assert at.session_state[keys.RUN] == str(chance_run)
        # a reload is a new session: the choice is read back from the runs folder
        assert ("**one-epoch**  \nvalidation top-1 1.7% (chance 1.7%; trained level weights, before validation chose "
                "them) · not clearly above chance") in sidebar()
        assert open_page("neurons").get("plotly_chart")  # a chosen run is used, at chance or not
    finally:
        (studio / "runs" / CHOICES_FILE).unlink(missing_ok=True)
        shutil.rmtree(chance_run)


def test_the_shipped_runs_analyses_are_ready_before_the_first_visit(studio, monkeypatch):  # noqa: F811
    """Opening the app starts the warm-up; afterwards the Probes and Neurons pages compute nothing themselves."""
    import threading

    from dina_core.interpret import analyses, probes

    sidebar()  # a first session at the root
    for thread in [t for t in threading.enumerate() if t.name == "dina-warmup"]:
        thread.join(timeout=600)

    def recomputed(*args, **kwargs):
        raise AssertionError("computed again: the warm-up did not fill this cache")

    for module, name in ((probes, "structure_probe"), (analyses, "neuron_rankings"), (analyses, "pruning_curves"),
                         (analyses, "neuron_interactions")):
        monkeypatch.setattr(module, name, recomputed)
    for page in ("probes", "neurons"):
        assert open_page(page).get("plotly_chart")
