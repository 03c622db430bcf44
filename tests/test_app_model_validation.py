"""DINA Studio's Model validation page through AppTest, and the report's model-validation section.

The app runs on the small simulated demo with no trained run (so the page works without one, and the table has no
DINA row), in temporary data/runs folders. One validation is made by ``validate_models`` itself (a random-weight
ResNet-18 fed the stimuli at their own size, two layers, two epochs per alignment) and the page's numbers are
checked against its ``validation.json`` and ``views.alignment_map``; another is started from the page, on a tiny
TorchScript network, and waited for.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch

from dina_app import keys
from dina_app.model_validation_panel import NETWORKS
from studio_pages import open_page, texts, traces

RESNET = "torchvision:resnet18 (random weights)"


@pytest.fixture(scope="module")
def mv_studio(tmp_path_factory):
    """The app's environment: data/runs/demo folders, the small demo, no demo run; in the data folder a tiny
    TorchScript network, a file that is not one, and a state dict of another architecture."""
    root = tmp_path_factory.mktemp("mv_studio")
    env = {"DINA_DATA_DIR": root / "data", "DINA_RUNS_DIR": root / "runs", "DINA_DEMO_DIR": root / "demo",
           "DINA_DEMO_SIZE": "small", "DINA_DEMO_RUN": root / "no_demo_run"}
    nets = root / "data" / "nets"
    nets.mkdir(parents=True)
    tiny = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(),
                               torch.nn.Conv2d(4, 8, 3, stride=2), torch.nn.ReLU())
    torch.jit.trace(tiny, torch.zeros(1, 3, 16, 16)).save(str(nets / "tiny.pt"))
    (nets / "broken.pt").write_bytes(b"not a torchscript archive")
    torch.save({"fc.weight": torch.zeros(3, 3)}, nets / "other_arch.pth")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, str(value))
        from dina_app import state
        state.demo_path()
        yield root


@pytest.fixture(scope="module")
def validation(mv_studio):
    """(folder, result, data): a validation of the demo written where the app finds it."""
    from dina_app import state
    from dina_app.model_validation_results import VALIDATION_DIR
    from dina_core.data.io import read_dataset
    from dina_core.model_validation import parse_spec, validate_models
    from dina_core.runs.config import TrainConfig

    path = mv_studio / "demo" / "demo_small.h5"
    folder = mv_studio / "runs" / VALIDATION_DIR / state.fingerprint(state.file_key(path)) / "mv-fixture"
    data = read_dataset(path)
    result = validate_models(data, [parse_spec("torchvision:resnet18")], folder, layers="layer1,layer2",
                             input_size="native", train_config=TrainConfig(epochs=2), cache_dir=None)
    return folder, result, data


def test_page_renders_with_no_validation_yet(mv_studio, tmp_path, monkeypatch):
    monkeypatch.setenv("DINA_RUNS_DIR", str(tmp_path / "runs"))
    at = open_page("model_validation")
    assert not at.error, [e.value for e in at.error]
    assert "No validation of this recording yet" in texts(at)
    assert "no DINA row" in texts(at)  # no model in use: said, not failed
    assert at.button(key="mv.start").disabled  # nothing to validate yet


def test_validation_shows_its_table_profile_and_best_layers_map(validation):
    from dina_core.model_validation import views

    folder, result, data = validation
    at = open_page("model_validation")
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    shown = {(r["network"], r["layer"], r["row"]): r for r in table.to_dict("records")}
    for row in result["rows"]:
        assert shown[RESNET, row["layer"], "network"]["single-trial %"] == round(100 * row["single_trial"], 1)
        assert shown[RESNET, row["layer"], "network"]["averaged %"] == round(100 * row["averaged"], 1)
    assert {layer for (_, layer, kind) in shown if kind == "random-weight control"} == {"layer1", "layer2", "joint"}
    pixels = shown["pixels", "pixels", "reference: pixels"]
    assert pixels["single-trial %"] == round(100 * result["pixel"]["single_trial"], 1)
    best = result["best"][RESNET]
    assert f"best layer **{best}**" in texts(at)

    profile = traces(at.get("plotly_chart")[0])
    assert [t["name"] for t in profile] == [RESNET, RESNET + " [random-weight control]"]
    assert profile[0]["x"] == ["layer1", "layer2"]  # the joint row is not a depth
    at.button_group(key="mv.responses").set_value("averaged").run()
    assert traces(at.get("plotly_chart")[0])[0]["y"] == [r["averaged"] for r in result["rows"][:2]]

    row = next(r for r in result["rows"] if r["layer"] == best)
    images = views.test_images(folder, row)
    at.slider(key="mv.map.image").set_value(3).run()
    aligned = views.alignment_map(result, folder, row, data, int(images[3]))
    assert f"similarity ({aligned.sum():.2f})" in texts(at)
    overlay = traces(at.get("plotly_chart")[-1])
    assert overlay[1]["z"]["shape"] == "{}, {}".format(*data.image_shape)  # the map upsampled over the stimulus


def test_presentation_mode_shows_results_without_the_builder(validation):
    at = open_page("model_validation", **{keys.PRESENT: True})
    assert not at.error, [e.value for e in at.error]
    assert not any(b.key == "mv.start" for b in at.button)
    assert at.get("plotly_chart") and at.dataframe


@pytest.mark.parametrize("damage", ["not json", "row field missing"])
def test_a_broken_validation_json_is_one_error_line(validation, tmp_path, monkeypatch, damage):
    folder = validation[0]
    runs = tmp_path / "runs"
    broken = runs / folder.relative_to(folder.parents[2])
    shutil.copytree(folder, broken)
    if damage == "not json":
        (broken / "validation.json").write_text("{not json")
    else:
        damaged = json.loads((folder / "validation.json").read_text())
        del damaged["rows"][0]["single_trial"]
        (broken / "validation.json").write_text(json.dumps(damaged))
    monkeypatch.setenv("DINA_RUNS_DIR", str(runs))
    at = open_page("model_validation")
    assert len(at.error) == 1 and "validation.json" in at.error[0].value
    assert "cannot be shown" in at.error[0].value and "Traceback" not in at.error[0].value


def test_the_dina_reference_row_is_marked_and_drawn(validation, tmp_path, monkeypatch):
    """A validation run beside a DINA model (here its row written by hand: no run is trained for this test)."""
    folder, result, _ = validation
    runs = tmp_path / "runs"
    copy = shutil.copytree(folder, runs / folder.relative_to(folder.parents[2]))
    dina = {**result["pixel"], "model": "dina", "layer": "combined", "single_trial": 0.4, "file": None}
    (copy / "validation.json").write_text(json.dumps({**result, "dina": dina}))
    monkeypatch.setenv("DINA_RUNS_DIR", str(runs))
    at = open_page("model_validation")
    rows = at.dataframe[0].value.to_dict("records")
    assert [r["row"] for r in rows[-2:]] == ["reference: DINA", "reference: pixels"]
    assert rows[-2]["single-trial %"] == 40.0
    shapes = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["shapes"]
    assert any(s["y0"] == 0.4 for s in shapes)  # DINA's line beside the layers


@pytest.mark.parametrize("kind, file, says", [("torchvision", "nets/other_arch.pth", "not a state dict of torchvision"),
                                              ("torchscript", "nets/broken.pt", "not a TorchScript file")])
def test_a_network_that_does_not_open_is_refused_in_one_line(mv_studio, kind, file, says):
    at = open_page("model_validation")
    at.button_group(key="mv.kind").set_value(kind).run()
    at.selectbox(key="mv.weights" if kind == "torchvision" else "mv.script").set_value(file).run()
    at.button(key="mv.add").click().run()
    assert not at.exception and len(at.error) == 1 and says in at.error[0].value
    assert not at.session_state[NETWORKS]


def test_a_validation_started_from_the_page_completes(validation):
    from dina_app import jobs

    at = open_page("model_validation")
    at.button_group(key="mv.kind").set_value("torchscript").run()
    at.selectbox(key="mv.script").set_value("nets/tiny.pt").run()
    at.button(key="mv.add").click().run()
    layers = next(m for m in at.multiselect if m.key.startswith("mv.layers."))
    assert layers.value == ["1", "3"]  # the stage-level layers: the last of each spatial size
    layers.set_value(["3"])
    at.number_input(key="mv.epochs").set_value(1)
    at.button(key="mv.start").click().run()
    assert not at.error, [e.value for e in at.error]
    job = jobs.get(f"validate:{at.session_state[keys.SESSION]}")
    assert job is not None and job.wait(timeout=300)
    assert job.status == "finished", job.error
    at.run()
    assert "finished" in at.success[0].value
    table = at.dataframe[0].value
    assert {(n, layer) for n, layer in zip(table["network"], table["layer"])} >= {("torchscript:nets/tiny.pt", "3")}
    assert re.search(r"torchscript:nets/tiny\.pt\*\*: best layer \*\*3\*\*", texts(at))


def test_the_report_holds_the_newest_validation_that_loads(validation, mv_studio, tmp_path, monkeypatch):
    from dina_app import report, report_validation, state

    folder = validation[0]
    runs = tmp_path / "runs"
    good = shutil.copytree(folder, runs / folder.relative_to(folder.parents[2]))
    newer = shutil.copytree(folder, good.parent / "mv-newer-but-broken")
    (newer / "validation.json").write_text("[]")
    monkeypatch.setenv("DINA_RUNS_DIR", str(runs))
    found = report_validation.latest(state.runs_dir(), folder.parent.name)
    assert found["folder"] == str(good)
    header, rows = report_validation.table(found)
    assert header[:3] == ["network", "layer", "row"] and rows[-1][:3] == ["pixels", "pixels", "reference: pixels"]
    assert len(rows) == len(validation[1]["rows"]) + len(validation[1]["control"]) + 1  # no DINA row: none in use
    summary = state.summary(state.file_key(mv_studio / "demo" / "demo_small.h5"))
    html = report.build_html([report.Section(*report_validation.section(found))], summary, {}, [], validation=found)
    assert "<h2>Model validation</h2>" in html and report_validation.TITLE in html and "Best layers: " in html
