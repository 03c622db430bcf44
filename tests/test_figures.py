"""The app's figure builders, read as plotly JSON (no browser, no Streamlit run): where legends sit, how many
colour bars a figure has, shared ranges, tick formats, and the words that replace the core's keys."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from dina_app import analysis, labels
from dina_app import figures as F
from dina_app import map_figures as M
from dina_app import result_figures as R


def layout(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())["layout"]


def colorbars(fig: go.Figure) -> int:
    """Colour bars plotly draws: one per shared colour axis, plus one per trace with its own scale shown."""
    spec = json.loads(fig.to_json())
    axes = [k for k in spec["layout"] if k.startswith("coloraxis") and spec["layout"][k].get("showscale", True)]
    own = [t for t in spec["data"] if "coloraxis" not in t and t.get("type") in ("heatmap", "contour")
           and t.get("showscale", True)]
    return len(axes) + len(own)


@pytest.mark.parametrize("big", [False, True])
def test_legends_sit_below_the_plot_never_over_the_curves(big):
    ks = np.arange(1, 101)
    curves = {"DINA": (ks, np.sqrt(ks / 100)), "linear two-tower": (ks, ks / 100 + 0.1)}
    legend = layout(F.lines(curves, "k", "top-k", big=big, chance=(ks, ks / 100), log_x=True))["legend"]
    assert legend["orientation"] == "h" and legend["yref"] == "container"  # in the figure's margin, outside the axes
    assert legend["y"] == 0 and legend["yanchor"] == "bottom"
    points = F.positions(np.random.default_rng(0).normal(size=(30, 2)), None, "", big=big,
                         highlight=np.arange(30) < 10)
    assert layout(points)["legend"]["yref"] == "container"


@pytest.mark.parametrize("peak, decimals", [(0.9, 0), (0.18, 0), (0.03, 1), (0.004, 2), (0.0004, 3)])
def test_percent_ticks_keep_enough_decimals_to_differ(peak, decimals):
    fig = F.lines({"validation top-1": ([1, 2, 3], [peak / 4, peak / 2, peak])}, "epoch", "top-1", chance=peak / 10)
    fmt = layout(fig)["yaxis"]["tickformat"]
    assert fmt == f".{decimals}%"
    ticks = np.linspace(0, peak, 6)  # about plotly's tick spacing: neighbouring labels must differ
    shown = [f"{100 * t:.{decimals}f}" for t in ticks]
    assert len(set(shown)) == len(shown)


def test_a_band_is_drawn_under_its_curve_and_hover_keeps_the_full_name():
    k = np.array([1, 10, 100])
    fig = F.lines({"random": (k, [0.1, 0.3, 0.6])}, "k", "top-1", bands={"random": ([0.05, 0.2, 0.5], [0.15, 0.4, 0.7])},
                  hover={"random": "random subsets, run demo-quick-ad220cae1ae67538"})
    band, curve = fig.data[0], fig.data[1]
    assert band.fill == "toself" and not band.showlegend and list(band.y) == [0.15, 0.4, 0.7, 0.5, 0.2, 0.05]
    assert curve.name == "random" and "demo-quick-ad220cae1ae67538" in curve.hovertemplate


def test_pruning_figure_shades_the_random_subsets_mean_plus_minus_sd():
    curves = {"importance": [{"k": 1, "top1": 0.1}, {"k": 10, "top1": 0.5}],
              "importance_bottom": [{"k": 1, "top1": 0.0}, {"k": 10, "top1": 0.2}],
              "random": [{"k": 1, "top1": 0.05, "top1_std": 0.1}, {"k": 10, "top1": 0.3, "top1_std": 0.05}]}
    fig = R.pruning_figure(curves, chance=0.01)
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 1 and bands[0].legendgroup == labels.PRUNING_CURVES["random"]
    np.testing.assert_allclose(bands[0].y, [0.15, 0.35, 0.25, 0.0])  # upper there, lower (floored at 0) back


@pytest.mark.parametrize("n_methods", [1, 3, 4])
def test_attribution_maps_share_one_colour_bar(n_methods):
    rng = np.random.default_rng(0)
    maps = [rng.normal(size=(36, 64)) * 10 ** i for i in range(n_methods)]
    for big in (False, True):
        fig = M.overlays(rng.uniform(0, 255, (36, 64)), maps, [f"method {i}" for i in range(n_methods)], 0.6, big=big,
                         contours=np.zeros((1, 36, 64), bool))
        assert colorbars(fig) == 1
        heat = [t for t in fig.data if t.type == "heatmap" and t.coloraxis]
        assert len(heat) == n_methods and all(np.abs(t.z).max() == pytest.approx(1.0) for t in heat)
        assert layout(fig)["coloraxis"]["colorbar"]["orientation"] == "h"  # below the panels, not beside the last


def test_channel_maps_get_one_colour_bar_and_their_peaks_in_the_titles():
    seen, predicted = np.array([[0.0, 2.0], [-1.0, 0.5]]), np.array([[0.0, 0.1], [-0.05, 0.02]])
    fig = M.side_by_side([seen, predicted], ["from the image", "predicted"])
    assert colorbars(fig) == 1
    assert [a.text for a in fig.layout.annotations] == ["from the image (peak 2)", "predicted (peak 0.1)"]
    shared = M.side_by_side([seen, predicted], ["a", "b"], shared_scale=True)
    assert colorbars(shared) == 1 and shared.layout.coloraxis.cmax == 2.0


def test_probe_comparison_panels_share_one_y_range():
    panels = {"Blur": ([0, 1, 2], [0.6, 0.4, 0.1], "sigma"), "Contrast": ([0, 0.5, 1], [0.6, 0.3, 0.01], "fraction"),
              "Patches": ([0, 0.5, 1], [0.2, 0.1, 0.05], "fraction"), "Phase": ([0, 1], [0.05, 0.01], "fraction")}
    spec = layout(R.small_multiples(panels, "top-1", chance=0.01))
    ranges = {tuple(spec[k]["range"]) for k in spec if k.startswith("yaxis")}
    assert len(ranges) == 1 and ranges.pop()[1] >= 0.6


def test_correlation_matrices_ignore_their_unit_diagonal():
    r = np.full((5, 5), 0.1) + np.diag(np.full(5, 0.9))
    r[0, 1] = r[1, 0] = -0.3
    fig = M.interaction_matrix(r, [str(i) for i in range(5)], "noise correlation (r)")
    heat = fig.data[0]
    assert np.isnan(np.diag(np.asarray(heat.z, dtype=float))).all()
    assert heat.zmax == pytest.approx(0.3) and heat.zmin == pytest.approx(-0.3)  # the 1s do not set the scale
    assert colorbars(fig) == 1


def test_raster_says_it_is_a_subset_and_marks_image_boundaries():
    images = np.repeat([4, 7, 9], [3, 2, 4])
    fig = M.raster(np.zeros((9, 6)), images, n_trials=1000, n_neurons=1000)
    spec = layout(fig)
    assert spec["yaxis"]["title"]["text"] == "test trials: 9 of 1,000 (3 images)"
    assert spec["xaxis"]["title"]["text"] == "neurons: 6 of 1,000"
    assert sorted(s["y0"] for s in spec["shapes"]) == [2.5, 4.5]  # after the last repeat of images 4 and 7


def test_model_bars_show_every_model_in_plain_words_and_the_ceiling_as_a_tick():
    rows = [{"model": m, "direction": d, "responses": r, "top1": t, "top5": t, "ci95_top1": [t - 0.05, t + 0.05]}
            for m, t in (("dina", 0.6), ("linear", 0.5), ("shuffled_null", 0.01), ("ceiling", 0.8), ("chance", 0.01))
            for d in ("neural_to_image", "image_to_neural") for r in ("averaged", "single_trial")]
    fig = R.model_bars(rows)
    assert [t.name for t in fig.data] == ["DINA", "linear two-tower", "shuffled-pairing null", "noise ceiling", "chance"]
    assert [t.type for t in fig.data] == ["bar"] * 3 + ["scatter"] * 2
    assert len(fig.data[0].x) == 4 and "response → image" in fig.data[0].x[0]
    without = R.model_bars([r for r in rows if r["model"] != "ceiling"])
    assert "noise ceiling" not in [t.name for t in without.data]


def test_levels_and_models_read_as_words():
    assert labels.level("stage2") == "mid-level maps (stage 2)"
    assert labels.level(None) == labels.level("combined") and "combined" in labels.level(None)
    assert labels.level("stage7") == "maps of stage 7" and labels.level("odd") == "odd"
    assert labels.model("shuffled_null") == "shuffled-pairing null" and labels.model("new_model") == "new model"
    assert set(labels.ATTRIBUTION_BASELINES) == {"mean_grey", "blurred"}


def test_single_trial_image_queries_rank_one_trial_per_image_as_evaluated():
    from dina_core.evaluate.tasks import TierEmbeddings

    rng = np.random.default_rng(1)
    n, repeats, d = 7, 3, 5
    image_index = np.repeat(np.arange(n) + 10, repeats)
    rng.shuffle(image_index)
    target = image_index - 10
    emb = {"images": rng.normal(size=(n, d)).astype(np.float32), "trials": rng.normal(size=(n * repeats, d)).astype(
        np.float32), "averaged": rng.normal(size=(n, d)).astype(np.float32), "image_index": image_index,
        "candidates": np.arange(n) + 10, "trial_target": target}
    ranks = TierEmbeddings(**emb).ranks("image_to_neural", "single_trial")  # sets concatenated
    for repeat in range(repeats):
        for q in range(n):
            top = analysis.query_topk(emb, "image_to_neural", "single_trial", q, 3, repeat=repeat)
            assert top["n"] == n and top["n_repeats"] == repeats
            assert top["true_rank"] == ranks[repeat * n + q] + 1
