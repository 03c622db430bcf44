"""`run_benchmark`: the metrics.json contract, chance rows, and a null that stays at chance."""

import json

import pytest

from dina_core.benchmark import run_benchmark
from dina_core.runs.config import TrainConfig

# The CNN models' accuracy at full scale is the README's benchmark; here the contract and the null,
# with the fast models: linear, ridge and the encoding model must leave chance, the null (a DINA on shuffled
# pairs) must not.
MODELS = ("linear", "shuffled_null", "ridge", "encoding")


@pytest.fixture(scope="module")
def metrics(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    config = TrainConfig(epochs=15, batch_size=32, lr=3e-3, patience=4)
    return out, run_benchmark(small_data, out, train_config=config, models=MODELS)


def test_metrics_json_contract(metrics):
    out, result = metrics
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["n_candidates"] == 30 == result["n_candidates"]
    models = {r["model"] for r in on_disk["rows"]}
    assert models == set(MODELS) | {"chance", "ceiling"}
    ceiling = {(r["direction"], r["responses"]): r["top1"] for r in on_disk["rows"] if r["model"] == "ceiling"}
    for row in on_disk["rows"]:
        assert row["direction"] in ("neural_to_image", "image_to_neural")
        assert row["responses"] in ("averaged", "single_trial")
        assert 0.0 <= row["top1"] <= row["top5"] <= 1.0
        lo, hi = row["ci95_top1"]
        assert lo <= row["top1"] <= hi
        assert row["fraction_of_ceiling"] == pytest.approx(row["top1"] / ceiling[row["direction"], row["responses"]])
    assert len(on_disk["rows"]) == 4 * (len(MODELS) + 2)
    assert "| linear |" in (out / "metrics.md").read_text() and "| ceiling |" in (out / "metrics.md").read_text()


def test_the_encoding_row_reports_both_rules_and_the_encoding_metrics(metrics):
    out, result = metrics
    on_disk = json.loads((out / "metrics.json").read_text())
    scores = on_disk["encoding_scores"]
    assert scores["chosen"] in ("correlation", "log_likelihood") and set(scores["validation_top1"]) == {
        "correlation", "log_likelihood"}
    assert scores["validation_top1"][scores["chosen"]] == max(scores["validation_top1"].values())
    chosen = [{k: v for k, v in r.items() if k not in ("model", "fraction_of_ceiling")}
              for r in on_disk["rows"] if r["model"] == "encoding"]
    assert chosen == scores[scores["chosen"]] and len(scores["correlation"]) == len(scores["log_likelihood"]) == 4
    encoding = on_disk["encoding_metrics"]
    assert encoding["tier"] == "test" and encoding["n_neurons"] == 200
    assert 0 < encoding["single_trial_correlation"] < encoding["correlation_to_average"] < 1
    assert "seconds" in on_disk and on_disk["seconds"]["encoding"] > 0
    md = (out / "metrics.md").read_text()
    assert "| encoding |" in md and "Encoding model (test tier" in md and "FEVE" in md


def test_shuffled_null_sits_at_chance_and_real_pairings_do_not(metrics):
    _, result = metrics
    rows = {(r["model"], r["direction"], r["responses"]): r for r in result["rows"]}
    chance = 1 / result["n_candidates"]
    for direction in ("neural_to_image", "image_to_neural"):
        null = rows["shuffled_null", direction, "averaged"]
        assert null["ci95_top1"][0] <= chance + 1e-9, null
        assert null["top1"] <= 4 * chance
    for model in ("linear", "ridge", "encoding"):
        assert rows[model, "neural_to_image", "averaged"]["ci95_top1"][0] > chance


def test_the_dina_row_is_trained_with_the_defaults_a_user_gets(small_data, tmp_path):
    """`dina train` and `dina benchmark` without a config build the same model with the same training."""
    from dina_core.cli import main
    from dina_core.data.format import write_dataset
    from dina_core.model import ModelConfig

    data = tmp_path / "small.h5"
    write_dataset(data, small_data)
    assert main(["train", str(data), "--out", str(tmp_path / "user"), "--epochs", "1"]) == 0
    assert main(["benchmark", str(data), "--out", str(tmp_path / "bench"), "--epochs", "1", "--models", "dina"]) == 0
    user = json.loads((tmp_path / "user" / "run.json").read_text())
    bench = json.loads((tmp_path / "bench" / "dina" / "run.json").read_text())
    assert bench["model_config"] == user["model_config"]  # retrieval weights included: chosen alike on validation
    default = json.loads(json.dumps(ModelConfig().to_dict()))
    assert {**user["model_config"], "retrieval_weights": []} == default
    assert bench["train_config"] == user["train_config"] == TrainConfig(epochs=1).resolved("dina").to_dict()
