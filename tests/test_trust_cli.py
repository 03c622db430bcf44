"""Trust, round two (issue 21), the command line: no file replaced unasked, no config too deep, no size unbounded.

Each refused case runs ``dina_core.cli.main`` in-process: exit status 2, one line ``error: ...`` naming the
file or option, the field and what was expected, and nothing changed (:func:`hostile.untouched`). The
expensive steps are tripwires, so "refused before any work" is asserted rather than timed.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import dina_core
from dina_core import limits
from dina_core.cli import main
from dina_core.config import ConfigError
from dina_core.data.format import write_dataset
from dina_core.errors import DinaError
from dina_core.limits import SizeError, check_sizes
from dina_core.model import MODEL_KINDS, build_model
from dina_core.simulate import SimConfig, simulate_recording
from dina_core.simulate.config import MAXIMA as SIM_MAXIMA
from dina_core.train.memory import training_bytes
from hostile import one_line_error, untouched

TINY = SimConfig.small(n_neurons=40, n_train_images=48, n_validation_images=6, n_test_images=6,
                       n_interaction_groups=2)
WORK = {"dina_core.simulate.simulate_recording": "simulating", "dina_core.train.run.train_run": "training",
        "dina_core.importers.sensorium.import_sensorium": "importing", "dina_core.importers.nwb.import_nwb":
        "importing", "dina_core.importers.suite2p.import_suite2p": "importing",
        "dina_core.benchmark.run_benchmark": "benchmarking", "dina_core.tune.tune": "tuning"}


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("trust_cli") / "tiny.h5"
    write_dataset(path, simulate_recording(TINY))
    return path


@pytest.fixture()
def tripwires(monkeypatch):
    """Every expensive step fails the test if a refused command reaches it."""
    for target, what in WORK.items():
        def tripped(*args, _what=what, **kwargs):
            raise AssertionError(f"a refused command started {_what}")
        monkeypatch.setattr(target, tripped)


# --- A file replaced unasked -----------------------------------------------------------------------------------

def _existing(t):
    (t / "src").mkdir()
    (t / "rec.nwb").write_bytes(b"an NWB file")
    (t / "out.h5").write_bytes(b"an earlier recording")
    return t / "out.h5"


REPLACING = {
    "simulate": lambda t: ["simulate", str(t / "out.h5"), "--size", "small"],
    "import_sensorium": lambda t: ["import", "sensorium", str(t / "src"), str(t / "out.h5")],
    "import_suite2p": lambda t: ["import", "suite2p", str(t / "src"), str(t / "out.h5"), "--stimuli", "s.csv",
                                 "--images", "i.npy"],
    "import_nwb": lambda t: ["import", "nwb", str(t / "rec.nwb"), str(t / "out.h5")],
}


@pytest.mark.parametrize("case", REPLACING)
def test_an_existing_output_is_refused_without_overwrite(case, tmp_path, tripwires, capsys):
    out = _existing(tmp_path)
    with untouched(tmp_path):
        status = main(REPLACING[case](tmp_path))
    one_line_error(capsys, status, f"output file {out}: already exists", "pass --overwrite")


def test_existing_raw_traces_are_refused_without_overwrite(tmp_path, tripwires, capsys):
    (tmp_path / "raw" / "suite2p").mkdir(parents=True)
    (tmp_path / "raw" / "images.npy").write_bytes(b"earlier images")
    with untouched(tmp_path):
        status = main(["simulate", str(tmp_path / "new.h5"), "--size", "small", "--traces", str(tmp_path / "raw")])
    one_line_error(capsys, status, f"--traces {tmp_path / 'raw'}: already holds suite2p, images.npy",
                   "pass --overwrite")


def test_overwrite_replaces_the_output(tmp_path, capsys):
    out = tmp_path / "out.h5"
    out.write_bytes(b"an earlier recording")
    assert main(["simulate", str(out), "--size", "small", "--neurons", "60", "--overwrite"]) == 0
    assert dina_core.load(out).n_neurons == 60


@pytest.mark.parametrize("call", [
    lambda out: dina_core.simulate_recording(out, size="small"),
    lambda out: dina_core.import_sensorium(out.parent / "src", out),
    lambda out: dina_core.import_suite2p(out.parent / "src", out, stimuli="s.csv", images="i.npy"),
    lambda out: dina_core.import_nwb(out.parent / "rec.nwb", out),
], ids=["simulate_recording", "import_sensorium", "import_suite2p", "import_nwb"])
def test_the_api_refuses_an_existing_output_the_same_way(call, tmp_path, tripwires):
    out = _existing(tmp_path)
    with untouched(tmp_path), pytest.raises(DinaError, match="already exists; pass overwrite=True"):
        call(out)


# --- A config too deep to read -------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["train", "benchmark", "tune"])
@pytest.mark.parametrize("nesting", ["[", '{"model": '])
def test_a_200k_deep_config_names_the_file(command, nesting, recording, tmp_path, tripwires, capsys):
    config = tmp_path / "deep.json"
    config.write_text(nesting * 200_000)
    with untouched(tmp_path, recording):
        status = main([command, str(recording), "--out", str(tmp_path / "out"), "--config", str(config)])
    one_line_error(capsys, status, f"--config {config}: JSON nested too deeply", "expected a UTF-8 JSON file")


# --- Sizes: a maximum per field, then the memory free ----------------------------------------------------------

def _int_sizes(cls) -> list[str]:
    """The integer (and integer-tuple) fields of a config class: in a model or simulator config, all sizes."""
    return [f.name for f in dataclasses.fields(cls) if f.type in ("int", "tuple[int, ...]", "tuple[int, int]")]


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_no_model_size_field_takes_ten_billion(kind):
    cls = MODEL_KINDS[kind][1]
    for name in _int_sizes(cls):
        value = (10**10,) * len(getattr(cls(), name)) if isinstance(getattr(cls(), name), tuple) else 10**10
        with pytest.raises(ConfigError) as info:
            check_sizes(cls.from_dict({name: value}))
        assert info.value.field == name and "<=" in info.value.expected, info.value


def test_no_simulator_size_takes_ten_billion():
    for name in _int_sizes(SimConfig):
        value = (10**10, 10**10) if isinstance(getattr(TINY, name), tuple) else 10**10
        with pytest.raises(ConfigError) as info:
            dataclasses.replace(TINY, **{name: value})
        assert info.value.field == name and "<=" in info.value.expected, info.value
    assert SimConfig(**{k: v for k, v in SIM_MAXIMA.items() if k in ("n_neurons", "n_test_repeats")})


@pytest.mark.parametrize("model,field,expected", [
    ({"trunk_dim": 10**7}, "trunk_dim", "an integer >= 1 and <= 16384"),
    ({"global_dim": 10**6, "global_level": True}, "global_dim", "<= 16384"),
    ({"stage_channels": [16, 10**6, 48]}, "stage_channels", "integers >= 1 and <= 2048"),
    ({"stage_channels": [8] * 9, "aligned_stages": ["stage1"], "encoding_stage": "stage1"}, "stage_channels",
     "a list of at most 8 items"),
])
def test_a_model_size_above_its_maximum_is_refused_before_any_work(model, field, expected, recording, tmp_path,
                                                                   tripwires, capsys):
    config = tmp_path / "big.json"
    config.write_text(json.dumps({"model": model}))
    with untouched(tmp_path, recording):
        status = main(["train", str(recording), "--out", str(tmp_path / "run"), "--config", str(config)])
    one_line_error(capsys, status, f"--config {config}: section 'model' (dina): field '{field}'", expected)


def test_the_api_and_train_run_refuse_the_same_sizes(small_data):
    with pytest.raises(DinaError, match="DINA setting 'trunk_dim': expected an integer >= 1 and <= 16384"):
        dina_core.DINA(trunk_dim=10**7).fit(small_data)
    from dina_core.train.run import train_run
    with pytest.raises(SizeError, match="field 'embed_dim': expected an integer >= 1 and <= 16384"):
        train_run(small_data, None, kind="linear", model_config={"embed_dim": 10**7})


def test_the_benchmarks_encoding_model_is_bounded_before_any_model_trains(small_data, tmp_path):
    """The config refuses the size itself (``check_sizes`` in its ``__post_init__``): no benchmark can start."""
    from dina_core.benchmark import run_benchmark
    from dina_core.model.encoding import EncodingConfig
    with untouched(tmp_path), pytest.raises(SizeError, match="'core_channels': expected an integer >= 1 and <= 2048"):
        run_benchmark(small_data, tmp_path / "bench", encoding_config=EncodingConfig(core_channels=10**6))


def test_neurons_beyond_the_simulators_maximum_are_refused(tmp_path, tripwires, capsys):
    with untouched(tmp_path):
        status = main(["simulate", str(tmp_path / "sim.h5"), "--neurons", str(10**12)])
    one_line_error(capsys, status, f"--neurons {10**12}: expected an integer >= 1 and <= {SIM_MAXIMA['n_neurons']}")


@pytest.fixture()
def one_gigabyte(monkeypatch):
    monkeypatch.setattr(limits, "available_memory", lambda device="cpu": 2**30)


def test_a_simulation_larger_than_free_memory_is_refused_before_any_work(tmp_path, one_gigabyte, monkeypatch, capsys):
    from dina_core.simulate import recording as sim
    monkeypatch.setattr(sim, "sample_crops", lambda *a: pytest.fail("simulated despite the memory check"))
    with untouched(tmp_path):
        status = main(["simulate", str(tmp_path / "sim.h5"), "--neurons", "100000"])
    one_line_error(capsys, status, "simulation (n_neurons 100,000, 3,750 trials of 2,850 images",
                   "of memory and 1.0 GB is free on cpu", "expected fewer neurons")


def test_raw_traces_larger_than_free_memory_are_refused_before_any_work(tmp_path, one_gigabyte, tripwires, capsys):
    with untouched(tmp_path):
        status = main(["simulate", str(tmp_path / "sim.h5"), "--neurons", "5000", "--traces", str(tmp_path / "raw")])
    one_line_error(capsys, status, "raw traces of 5,000 neurons x 3,750 trials", "1.0 GB is free")


def test_a_model_larger_than_free_memory_is_refused_before_the_folder(small_data, tmp_path, one_gigabyte):
    from dina_core.train.run import train_run
    big = {"trunk_dim": 16384, "linear_dim": 16384}
    with untouched(tmp_path), pytest.raises(DinaError, match=r"dina model of [\d,]+ weights for 200 neurons "
                                            r"\(.*trunk_dim 16384.*\): needs about .* 1.0 GB is free on cpu"):
        train_run(small_data, tmp_path / "run", model_config=big)


@pytest.mark.parametrize("kind,config", [("dina", {}), ("dina", {"global_level": True, "trunk_dim": 64}),
                                         ("linear", {})])
def test_the_weight_count_is_the_built_models(kind, config):
    weights, need = training_bytes(kind, config, 123, (36, 64))
    model = build_model(kind, config, 123, (36, 64))
    assert weights == sum(p.numel() for p in model.parameters())
    assert need >= 4 * 5 * weights and not any(p.is_meta for p in model.parameters())
    assert torch.empty(1).device.type == "cpu"  # the meta device was left behind

