"""DINA Studio, page by page, through Streamlit's AppTest (no browser; see test_browser.py for one).

Every page renders in both modes and reacts to its controls; the numbers the pages show are checked
against ``dina_core`` computed independently here, not merely for being present. The app runs on the
small simulated demo (DINA_DEMO_SIZE=small) with the suite's shared small run (``small_run_dir``) as its
demo run, in temporary data/runs folders (the ``studio`` fixture, conftest.py).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dina_app import keys
from studio_pages import APP, TIMEOUT, demo_fingerprint, open_page, texts, traces


PAGES = ["data", "train", "retrieval", "feature_maps", "attributions", "probes", "neurons", "model_validation",
         "across_animals", "report", "deck"]
FIGURE_PAGES = {"data", "retrieval", "feature_maps", "attributions", "probes", "neurons"}


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_on_the_demo(studio, name):
    at = open_page(name)
    assert not at.error, [e.value for e in at.error]
    assert at.title and at.title[0].value
    if name in FIGURE_PAGES:
        assert at.get("plotly_chart"), f"{name} shows no figure"


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_in_presentation_mode(studio, name):
    at = open_page(name, **{keys.PRESENT: True})
    assert not at.error, [e.value for e in at.error]
    if name in FIGURE_PAGES:
        assert at.get("plotly_chart"), f"{name} shows no figure"


def test_data_page_tier_switch_changes_the_gallery(studio):
    at = open_page("data")
    assert {"Built-in demo", "Data folder", "Upload a DINA file", "Import Sensorium"} <= set(
        at.button_group(key="data.source").options)
    assert "of the 30 test images" in texts(at)
    at.button_group(key="data.tier").set_value("train").run()
    assert "of the 400 train images" in texts(at)
    assert [m.value for m in at.metric][:2] == ["490", "200"]


def test_retrieval_shows_the_true_rank_of_each_query(studio, studio_demo):
    from dina_core.interpret.masked_eval import MaskedEvaluator

    run, data = studio_demo
    ev = MaskedEvaluator(run, data, "averaged")
    ranks = ev.ranks(np.ones(ev.n_neurons, dtype=np.float32))
    at = open_page("retrieval")
    for q in (0, 7, ev.n_queries - 1):
        at.slider(key="retrieval.query").set_value(q).run()
        shown = re.search(r"The true image ranks #(\d+) of (\d+)", texts(at))
        assert shown and (int(shown[1]), int(shown[2])) == (ranks[q] + 1, ev.n_candidates)


def test_fast_baselines_join_the_topk_curves(studio):
    from dina_app import jobs

    at = open_page("retrieval")
    at.button(key="retrieval.baselines").click().run()
    job = jobs.get(keys.baselines_job(demo_fingerprint(studio)))
    assert job is not None and job.wait(timeout=600)
    assert job.status == "finished", job.error
    at.run()
    assert not at.exception
    assert not any(b.key == "retrieval.baselines" for b in at.button)  # the benchmark folder is found now
    names = {trace.get("name") for chart in at.get("plotly_chart") for trace in traces(chart)}
    assert {"linear two-tower", "ridge regression", "chance"} <= names  # plain names (labels.MODELS) in the legend


def test_topk_curve_is_topk_accuracy_at_every_k():
    from dina_app import analysis
    from dina_core.evaluate.retrieval import topk_accuracy

    ranks = np.random.default_rng(0).integers(0, 30, 500)
    curve = analysis.topk_curve(ranks, 30)
    np.testing.assert_allclose(curve, [topk_accuracy(ranks, k) for k in range(1, 31)])
    assert curve[-1] == 1.0


def test_pruning_slider_updates_the_accuracy(studio, studio_demo):
    from dina_core.evaluate.model_eval import evaluate_run
    from dina_core.interpret.masked_eval import MaskedEvaluator
    from dina_core.interpret.neurons import attribution_importance, order

    run, data = studio_demo
    ev = MaskedEvaluator(run, data, "averaged")
    ranking = order(attribution_importance(run, data, tier="validation"))
    at = open_page("neurons")
    for k in (5, 60):
        at.slider(key="neurons.k").set_value(k).run()
        mask = np.zeros(ev.n_neurons, np.float32)
        mask[ranking[:k]] = 1
        assert f"Top-1 with {k} neurons: {100 * ev.top1(mask):.1f}%" in texts(at)
    at.slider(key="neurons.k").set_value(ev.n_neurons).run()
    full = next(r["top1"] for r in evaluate_run(run, data, per_level=False)
                if r["direction"] == "neural_to_image" and r["responses"] == "averaged")
    assert f"Top-1 with {ev.n_neurons} neurons: {100 * full:.1f}%" in texts(at)


def test_other_pages_react_to_their_controls(studio, studio_demo):
    from dina_app.labels import level

    at = open_page("probes")
    at.selectbox(key="probe.name").set_value("contrast").run()
    assert "Contrast reduction at 0.75 (fraction of contrast removed): top-1" in texts(at)  # mid grid
    at = open_page("feature_maps")
    stage = studio_demo[0].model.config.aligned_stages[-1]
    at.selectbox(key="maps.stage").set_value(stage).run()
    assert f"similarity in the {level(stage)}" in texts(at)


def test_probe_headline_gives_the_unmanipulated_score(studio, studio_demo):
    from dina_core.evaluate.model_eval import evaluate_run
    from dina_core.interpret.probes import structure_probe

    run, data = studio_demo
    full = next(r["top1"] for r in evaluate_run(run, data, per_level=False)
                if r["direction"] == "neural_to_image" and r["responses"] == "averaged")
    assert structure_probe(run, data, "low_pass", (0.0,))[0]["top1"] == pytest.approx(full)  # blur 0: the identity
    assert structure_probe(run, data, "high_pass", (0.5,))[0]["top1"] != pytest.approx(full)  # high-pass has none
    at = open_page("probes")
    for name in ("high_pass", "low_pass", "contrast"):
        at.selectbox(key="probe.name").set_value(name).run()
        shown = re.search(r"unmanipulated ([\d.]+)%", texts(at))
        assert shown and shown[1] == f"{100 * full:.1f}", name


def test_presentation_mode_enlarges_and_hides_advanced_controls(studio):
    normal = open_page("attributions")
    assert any(e.label == "Method parameters" for e in normal.expander)
    big = open_page("attributions", **{keys.PRESENT: True})
    assert not any(e.label == "Method parameters" for e in big.expander)
    # AppTest drops what app.py draws before page.run() after switch_page, so read the CSS on the first page
    first = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    first.session_state[keys.PRESENT] = True
    first.run()
    assert any("font-size: 21px" in m.value for m in first.markdown)
    assert first.sidebar.toggle(key="dina.presentation").value


def test_report_is_one_self_contained_html_file(studio):
    at = open_page("report")
    at.checkbox(key="report.interpret").uncheck().run()
    at.button(key="report.build").click().run()
    assert not at.exception
    html = at.session_state[keys.REPORT_HTML]
    assert html.count('class="plotly-graph-div"') >= 4
    assert "Plotly" in html and not re.search(r"<script[^>]+src=", html)  # plotly.js inline, nothing fetched
    assert "Test retrieval" in html and "Simulated data" in html  # metrics table and the data's citation


def test_the_encoding_baseline_is_a_point_beside_the_curves(studio):
    """A benchmark's encoding-model rows (``dina benchmark``'s 'encoding' row) are drawn at k = 1 and 5, named."""
    import json
    import shutil

    folder = studio / "runs" / "encoding-bench" / demo_fingerprint(studio)
    folder.mkdir(parents=True)
    rows = [{"model": "encoding", "direction": d, "responses": r, "top1": 0.4, "top5": 0.8, "ci95_top1": [0.3, 0.5]}
            for d in ("neural_to_image", "image_to_neural") for r in ("averaged", "single_trial")]
    (folder / "metrics.json").write_text(json.dumps({"rows": rows}))
    try:
        at = open_page("retrieval")
        assert not at.exception
        points = [t for chart in at.get("plotly_chart") for t in traces(chart)
                  if t.get("name") == "encoding model (CNN core, Gaussian readout)"]
        assert points and all(list(t["x"]) == [1, 5] and list(t["y"]) == [0.4, 0.8] for t in points)
    finally:
        shutil.rmtree(folder.parent)
