"""The report: a self-contained HTML file (plotly.js inlined, opens offline) and PNG export of figures.

``collect`` gathers the figures from the same cached analyses the pages show (and the
baselines of the benchmark the Retrieval page finds); ``build_html`` writes them with the
dataset and model summaries, the metrics tables (percentages, plain names, the noise ceiling when the benchmark
has one), the newest model validation (``report_validation``) and the citations; ``figure_png`` renders one figure
through kaleido (>= 1), driving the system Chromium (``BROWSER_PATH``, else the first Chrome/Chromium on PATH), offline.
"""

from __future__ import annotations

import html
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from dina_core import __version__
from dina_core.errors import DinaError

from . import analysis, cached, labels, report_validation, saved_runs, state
from . import figures as F
from . import map_figures as M
from . import result_figures as R

METHOD_REFERENCES = (
    f"DINA: Dual-Tower Image-Neural Alignment, version {__version__}: contrastive alignment of an image CNN's "
    "intermediate feature maps with feature maps predicted from the population response.",
    "van den Oord A., Li Y., Vinyals O. (2018) Representation learning with contrastive predictive coding. "
    "arXiv:1807.03748 (InfoNCE loss).",
    "Radford A. et al. (2021) Learning transferable visual models from natural language supervision. ICML "
    "(dual-tower contrastive alignment).",
    "Kay K.N., Naselaris T., Prenger R.J., Gallant J.L. (2008) Identifying natural images from human brain "
    "activity. Nature 452:352-355 (identification by retrieval).",
    "Kokhlikyan N. et al. (2020) Captum: a unified and generic model interpretability library for PyTorch. "
    "arXiv:2009.07896; Sundararajan M., Taly A., Yan Q. (2017) Axiomatic attribution for deep networks. ICML.",
)
METRIC_COLUMNS = ["level", "direction", "responses", "top-1 %", "95% CI", "top-5 %", "median rank", "N"]
CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2rem auto;
color:#1b1f24;padding:0 1rem}h1{color:#1f5fbf}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #d5d8dc;padding:.3rem .6rem;text-align:left}th{background:#f2f4f8}
.caption{color:#3d4450;font-style:italic;margin:.2rem 0 2rem}.figure{margin-top:1.5rem}"""


@dataclass
class Section:
    title: str
    caption: str
    figure: go.Figure


def collect(data_key: state.FileKey, run_key: state.FileKey, interpret: bool = True,
            benchmark: dict | None = None, validation: dict | None = None) -> list[Section]:
    """The report's figures, from the cached analyses of the active run and recording; ``benchmark``
    (``analysis.find_benchmark``) adds the baselines beside it, ``validation`` (``report_validation.latest``)
    the layer profile of a model validation."""
    data, run = state.load_data(data_key), saved_runs.load_run(run_key)
    out = []
    rows = np.unique(data.image_index[data.tiers == "test"])[:12]
    out.append(Section("Stimuli", "Twelve of the test images.",
                       F.image_grid(data.images[rows], [f"image {r}" for r in rows], cols=6)))
    rel = state.reliability(data_key)
    if rel is not None:
        out.append(Section("Reliability", "Leave-one-out oracle correlation per neuron over test repeats.",
                           F.histogram(rel, "oracle correlation", marker=0.0)))
    if run.history:
        epochs = [h["epoch"] + 1 for h in run.history]
        fig = F.lines({"validation top-1": (epochs, [h["val_top1"] for h in run.history])}, "epoch", "top-1")
        if len(epochs) <= 20:
            fig.update_xaxes(dtick=1)  # whole epochs
        out.append(Section("Training", "Validation top-1 retrieval after each epoch.", fig))
    emb = cached.embeddings(run_key, data_key, None)
    n = len(emb["candidates"])
    ks = np.arange(1, n + 1)
    curves = {analysis.RESPONSES[m]: (ks, analysis.topk_curve(cached.ranks(run_key, data_key, None, "neural_to_image",
                                                                             m), n)) for m in analysis.RESPONSES}
    out.append(Section("Retrieval", f"Response → image top-k accuracy among the {n} test images; dotted: chance.",
                       F.lines(curves, "k", "top-k accuracy", chance=(ks, ks / n), log_x=n > 20)))
    if benchmark and benchmark["metrics"].get("rows"):
        out.append(Section("Beside the baselines", "Top-1 of every model of the benchmark on this recording (same "
                           "split, 95% intervals over images)" + (", with the noise ceiling (one response "
                           "identifying another response to the same image)" if _has_ceiling(benchmark) else "")
                           + " and chance; 'this run' is the model of this report.",
                           R.model_bars(comparison_rows(cached.evaluation(run_key, data_key), benchmark))))
    if validation:
        out.append(Section(*report_validation.section(validation)))
    scores, _ = analysis.similarity(emb, "averaged")
    out.append(Section("Similarity matrix", "Similarity of each averaged test response (rows) with each test "
                       "image (columns); a bright diagonal is correct retrieval.",
                       F.heatmap(scores, "test image", "test response", colorscale="Viridis", zmid=None)))
    if interpret and cached.is_dina(run_key):
        from dina_core.interpret.alignment import upsample_maps
        stage = run.model.config.aligned_stages[-1]
        maps = cached.stage_maps(run_key, data_key, stage)
        image = data.images[maps["image_rows"][0]]
        out.append(Section(f"Alignment map, {labels.level(stage)}", "Where the first test image matches its averaged "
                           "response: "
                           "red adds to the similarity, blue works against it.",
                           M.overlay(image, upsample_maps(maps["alignment"][:1], image.shape)[0], 0.6)))
    if interpret:
        curves = cached.pruning(run_key, data_key, "validation", "averaged")
        ev = cached.evaluator(run_key, data_key, "averaged")
        out.append(Section("Neuron pruning", "Top-1 with only the k first neurons of each ranking (ranked on "
                           "validation pairs) against random subsets (shaded: ± one sd over the random draws).",
                           R.pruning_figure(curves, ev.chance)))
        probe = cached.probe(run_key, data_key, "low_pass", "averaged")
        out.append(Section("Structure probe: blur", "Top-1 as the candidate images are blurred.",
                           F.lines({"top-1": ([r["strength"] for r in probe], [r["top1"] for r in probe])},
                                   "Gaussian sigma (px)", "top-1", chance=1 / n)))
    return out


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _plain(value) -> str:
    """A config or count dict as 'key: value · key: value' (lists comma-separated), anything else as it is."""
    if isinstance(value, dict):
        return " · ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "none"
    return "–" if value is None else str(value)


def _has_ceiling(benchmark: dict | None) -> bool:
    return any(r.get("model") == "ceiling" for r in (benchmark or {}).get("metrics", {}).get("rows", []))


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _interval(ci: list | None) -> str:
    return "–" if not ci else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}"


TASKS = (("neural_to_image", "averaged"), ("neural_to_image", "single_trial"), ("image_to_neural", "averaged"),
         ("image_to_neural", "single_trial"))
THIS_RUN = "this run"  # the report's own model among the benchmark's rows (labels.model leaves it as it is)


def comparison_rows(evaluation: list[dict], benchmark: dict | None) -> list[dict]:
    """The report's model (its combined-score rows, as model 'this run') and the benchmark's rows, if any."""
    own = [{**r, "model": THIS_RUN} for r in evaluation if r.get("level") == "combined"]
    return own + list((benchmark or {}).get("metrics", {}).get("rows", []))


def baseline_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    """One row per model, one column per task: 'top-1 (95% CI) / top-5' in percent, plain model names, and
    the share of the noise ceiling's top-1 where the rows carry it."""
    header = ["model"] + [f"{analysis.DIRECTIONS[d]}, {analysis.RESPONSES[m]}" for d, m in TASKS]
    table = []
    for model in dict.fromkeys(r["model"] for r in rows):
        cells = [labels.model(model)]
        for task in TASKS:
            r = next((x for x in rows if x["model"] == model and (x["direction"], x["responses"]) == task), None)
            if r is None:
                cells.append("–")
                continue
            ci = r.get("ci95_top1")
            text = f"{_percent(r['top1'])}" + (f" ({100 * ci[0]:.0f}–{100 * ci[1]:.0f})" if ci else "")
            text += f" / {_percent(r['top5'])}" if r.get("top5") is not None else ""
            if r.get("fraction_of_ceiling") is not None and model not in ("ceiling", "chance"):
                text += f" · {100 * r['fraction_of_ceiling']:.0f}% of ceiling"
            cells.append(text)
        table.append(cells)
    return header, table


def build_html(sections: list[Section], summary: dict, run_info: dict, metrics: list[dict],
               benchmark: dict | None = None, validation: dict | None = None) -> str:
    """A standalone HTML report: plotly.js is inlined once, so it opens without a network.

    ``metrics``: the active run's ``evaluate_run`` rows; ``benchmark``: ``analysis.find_benchmark``'s
    result (its baselines get a table of their own), or None; ``validation``: ``report_validation.latest``.
    """
    data_rows = [["name", summary.get("name")], ["images", summary["n_images"]], ["neurons", summary["n_neurons"]],
                 ["trials", summary["n_trials"]], ["trials per tier", _plain(summary["trials_per_tier"])],
                 ["test repeats (median)", (summary["test_repeats"] or {}).get("median", "–")],
                 ["source", summary.get("source")], ["licence", summary.get("license")]]
    model_rows = [[k, _plain(v)] for k, v in run_info.items()]
    metric_rows = [[labels.level(r["level"]), analysis.DIRECTIONS[r["direction"]], analysis.RESPONSES[r["responses"]],
                    _percent(r["top1"]), _interval(r["ci95_top1"]), _percent(r["top5"]), f"{r['median_rank']:g}",
                    r["n_candidates"]] for r in metrics]
    baselines = ""
    if benchmark and benchmark["metrics"].get("rows"):
        header, rows = baseline_table(comparison_rows(metrics, benchmark))
        baselines = (f'<h2>Beside the baselines</h2><p>Top-1 % (95% CI) / top-5 % of {THIS_RUN} and of every model '
                     f'of the benchmark <code>{html.escape(Path(benchmark["folder"]).name)}</code>, trained and '
                     f'scored on the same split of this recording'
                     + (" (noise ceiling: one response identifying another response to the same image, no model)"
                        if _has_ceiling(benchmark) else "") + f'.</p>{_table(header, rows)}')
    validated = "" if not validation else ("<h2>Model validation</h2><p>" + html.escape(report_validation.summary(
        validation)) + f"</p>{_table(*report_validation.table(validation))}")
    figures = "".join(
        f'<div class="figure"><h3>{html.escape(s.title)}</h3>'
        f'{s.figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})}'
        f'<p class="caption">{html.escape(s.caption)}</p></div>' for s in sections)
    citations = "".join(f"<li>{html.escape(c)}</li>" for c in (*METHOD_REFERENCES, summary.get("citation") or ""))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>DINA report: '
            f'{html.escape(str(summary.get("name")))}</title><style>{CSS}</style>'
            f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
            f'<h1>DINA report</h1><p>{html.escape(time.strftime("%Y-%m-%d %H:%M"))} · DINA {__version__}</p>'
            f'<h2>Recording</h2>{_table(["", ""], data_rows)}<h2>Model</h2>{_table(["", ""], model_rows)}'
            f'<h2>Test retrieval</h2>{_table(METRIC_COLUMNS, metric_rows)}{baselines}'
            f'{validated}{figures}<h2>Cite</h2><ol>{citations}</ol></body></html>')


CHROMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def png_export_problem() -> str | None:
    """What PNG export lacks on this machine (kaleido, a Chrome/Chromium), in words; None when it can run."""
    try:
        import kaleido  # noqa: F401  (plotly's image export backend)
    except ImportError:
        return "PNG export needs the kaleido package: pip install 'kaleido>=1.5,<2'."
    browser = os.environ.get("BROWSER_PATH")
    if not (browser and Path(browser).exists()) and not any(shutil.which(name) for name in CHROMES):
        return ("PNG export needs Chromium or Chrome on this machine (apt-get install chromium, or set BROWSER_PATH "
                "to a Chrome binary); kaleido drives it, offline.")
    return None


def figure_png(fig: go.Figure, width: int = 1200, height: int | None = None) -> bytes:
    """PNG bytes of ``fig`` via kaleido >= 1 and the system Chromium; DinaError explains what is missing.

    MathJax is switched off: kaleido's page would otherwise fetch it from a CDN (no figure uses TeX).
    """
    problem = png_export_problem()
    if problem:
        raise DinaError(problem)
    if "BROWSER_PATH" not in os.environ:
        os.environ["BROWSER_PATH"] = next(p for p in map(shutil.which, CHROMES) if p)
    import kaleido
    opts = {"format": "png", "width": width, "height": height or fig.layout.height or 500, "scale": 2}
    try:
        return kaleido.calc_fig_sync(fig.to_dict(), opts=opts, kopts={"mathjax": False})
    except Exception as exc:  # kaleido reports a missing or broken browser in several ways
        raise DinaError(f"PNG export failed: {type(exc).__name__}: {exc}. It needs Chromium: install it "
                        "(apt-get install chromium) or point BROWSER_PATH at a Chrome/Chromium binary.") from exc
