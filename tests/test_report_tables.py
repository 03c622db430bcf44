"""The report's tables (no Streamlit run): baselines beside the report's model, in percent and plain words,
the noise ceiling when the benchmark has one."""

from __future__ import annotations

import re

from dina_app import report

TASKS = [(d, r) for d in ("neural_to_image", "image_to_neural") for r in ("averaged", "single_trial")]


def rows(model: str, top1: float, **extra) -> list[dict]:
    return [{"model": model, "direction": d, "responses": r, "top1": top1, "top5": min(1.0, 2 * top1),
             "ci95_top1": [top1 - 0.05, top1 + 0.05], "n_candidates": 100, **extra} for d, r in TASKS]


def evaluation(top1: float) -> list[dict]:
    return [{**r, "level": level, "median_rank": 3} for level in ("combined", "stage2")
            for r in rows("", top1 if level == "combined" else 0.3)]


def test_baselines_sit_beside_the_reports_model_in_percent_and_plain_words():
    bench = {"folder": "/runs/benchmarks/abc", "metrics": {"rows": rows("linear", 0.5) + rows("shuffled_null", 0.01)
                                                            + rows("chance", 0.01)}}
    header, table = report.baseline_table(report.comparison_rows(evaluation(0.62), bench))
    assert header[1] == "response → image, repeat-averaged"
    assert [r[0] for r in table] == ["this run", "linear two-tower", "shuffled-pairing null", "chance"]
    assert table[0][1] == "62.0 (57–67) / 100.0" and table[1][1] == "50.0 (45–55) / 100.0"
    assert not any("ceiling" in cell for row in table for cell in row)  # no ceiling in this benchmark


def test_the_noise_ceiling_and_each_models_share_of_it_appear_when_present():
    ceiling = rows("ceiling", 0.8)
    bench = {"folder": "/runs/benchmarks/abc",
             "metrics": {"rows": rows("linear", 0.4, fraction_of_ceiling=0.5) + ceiling + rows("chance", 0.01)}}
    header, table = report.baseline_table(report.comparison_rows(evaluation(0.62), bench))
    names = [r[0] for r in table]
    assert "noise ceiling" in names and table[names.index("linear two-tower")][1].endswith("· 50% of ceiling")
    assert "of ceiling" not in table[names.index("noise ceiling")][1]
    summary = {"name": "rec", "n_images": 10, "n_neurons": 5, "n_trials": 20, "test_repeats": None,
               "trials_per_tier": {"train": 10, "validation": 0, "test": 10}}
    html = report.build_html([], summary, {"best validation top-1": "45.2%", "model config": {"aligned_stages": [
        "stage2", "stage3"]}}, evaluation(0.62), bench)
    assert "Beside the baselines" in html and "noise ceiling" in html and "80.0 (75–85)" in html
    assert "mid-level maps (stage 2)" in html  # levels in words in the run's own table
    body = html.split("</head>", 1)[1]  # no figures here, so no plotly JSON in the body either
    assert "aligned stages: stage2, stage3" in body and not re.search(r"\{&quot;|\{\"", body)  # no raw JSON dicts
