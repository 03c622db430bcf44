"""Progress that reads in a log: `--progress lines` (the default off a terminal), `bar` and `none`.

The lines writer is driven here by fake StepInfos and stage callbacks on a fake clock, then a short
real `dina train` writes to a file: no carriage return, no escape code, one line per epoch, a line
for the linear-level fit, and rates a stopwatch would agree with.
"""

import io
import json
import re
import subprocess
import sys

import pytest

from dina_core.cli import main
from dina_core.cli.bars import Reporter
from dina_core.data.format import write_dataset
from dina_core.simulate import SimConfig, simulate_recording
from dina_core.train.loop import StepInfo

TINY_MODEL = {"stage_channels": [4, 8], "aligned_stages": ["stage0", "stage2"], "trunk_dim": 32, "linear_dim": 16,
              "latent_channels": 4}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fit_steps(epochs: int, per_epoch: int, seconds_per_step: float, clock: Clock):
    """The StepInfos one ``fit`` reports: steps from 1, validation top-1 on each epoch's last step."""
    total = epochs * per_epoch
    for step in range(1, total + 1):
        clock.now += seconds_per_step
        elapsed = step * seconds_per_step
        last = step % per_epoch == 0
        yield StepInfo(epoch=(step - 1) // per_epoch, step=step, total_steps=total, loss=4.0 - step / total,
                       lr=1e-3, elapsed_s=elapsed, eta_s=(total - step) * seconds_per_step,
                       val_top1=0.1 * step / per_epoch if last else None)


def assert_plain(text: str) -> None:
    assert "\r" not in text and "\x1b" not in text


def assert_follows_progress_contract(calls: list[tuple[int, int, str]]) -> None:
    """dina_core.progress: ``done`` counts within its stage; a stage's calls are consecutive, never decreasing,
    and end at done == total."""
    stages = list(dict.fromkeys(stage for _, _, stage in calls))
    assert [stage for _, _, stage in calls] == [s for s in stages for c in calls if c[2] == s]  # consecutive
    for stage in stages:
        own = [(done, total) for done, total, s in calls if s == stage]
        assert [d for d, _ in own] == sorted(d for d, _ in own) and own[-1][0] == own[-1][1]


def test_one_plain_line_per_epoch_and_one_per_finished_fit():
    clock, out = Clock(), io.StringIO()
    with Reporter("lines", label="train dina", stream=out, clock=clock) as reporter:
        for info in fit_steps(epochs=3, per_epoch=4, seconds_per_step=0.5, clock=clock):
            reporter.on_step(info)
    text = out.getvalue()
    assert_plain(text)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0] == ("train dina: epoch 1, step 4/12  loss 3.667  val top-1 0.100  elapsed 2.00 s  ETA 4.00 s"
                        "  2.00 step/s")
    assert lines[2].startswith("train dina: epoch 3, step 12/12") and "ETA 0.00 s" in lines[2]
    assert lines[3] == "train dina: done, 12 steps in 6.00 s (2.00 step/s), best val top-1 0.300"


def test_a_counter_restarting_per_member_does_not_restart_the_overall_count():
    clock, out = Clock(), io.StringIO()
    reporter = Reporter("lines", stream=out, clock=clock)
    for member in range(2):
        reporter.begin(f"train dina, member {member + 1}/2")
        for info in fit_steps(epochs=1, per_epoch=5, seconds_per_step=2.0, clock=clock):
            reporter.on_step(info)
    assert reporter.steps == 10
    reporter.close()
    lines = out.getvalue().splitlines()
    assert lines[1] == "train dina, member 1/2: done, 5 steps in 10.0 s (2.00 s/step), best val top-1 0.100"
    assert lines[3] == ("train dina, member 2/2: done, 5 steps in 10.0 s (2.00 s/step), best val top-1 0.100; "
                        "10 steps in all so far")


def test_a_restart_without_a_new_label_is_a_new_fit_of_the_same_work():
    clock, out = Clock(), io.StringIO()
    with Reporter("lines", label="dina", stream=out, clock=clock) as reporter:
        for _ in range(2):  # e.g. a benchmark's ensemble, whose member index the benchmark does not pass on
            for info in fit_steps(epochs=1, per_epoch=2, seconds_per_step=1.0, clock=clock):
                reporter.on_step(info)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["dina", "dina", "dina (fit 2)", "dina (fit 2)"]


def test_stages_are_timed_from_their_start_and_count_within_the_stage():
    clock, out = Clock(), io.StringIO()
    with Reporter("lines", unit="item", stream=out, clock=clock) as progress:
        for stage in ("images", "responses"):
            for done in (250, 500, 750, 1000):  # reported after the work, never announced
                clock.now += 2.5
                progress(done, 1000, stage)
        progress(0, 1, "writing")  # announced at its start
        clock.now += 3.0
        progress(1, 1, "writing")
    text = out.getvalue()
    assert_plain(text)
    assert text.splitlines() == ["images: 1000/1000 items in 10.0 s (100 item/s)",
                                 "responses: 1000/1000 items in 10.0 s (100 item/s)",
                                 "writing: done in 3.00 s"]


def test_none_writes_only_results_and_an_error_leaves_no_done_line():
    clock, out = Clock(), io.StringIO()
    with Reporter("none", stream=out, clock=clock) as reporter:
        reporter.say("model 1/2: linear")
        for info in fit_steps(epochs=2, per_epoch=2, seconds_per_step=1.0, clock=clock):
            reporter.on_step(info)
        reporter.write("a result")
    assert out.getvalue() == "a result\n"
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt), Reporter("lines", stream=out, clock=clock) as reporter:
        reporter(1, 3, "probes")
        raise KeyboardInterrupt
    assert out.getvalue() == ""


def test_bars_are_closed_one_after_another_and_count_with_update():
    from tqdm import tqdm
    clock, out = Clock(), io.StringIO()
    with Reporter("bar", label="train dina", stream=out, clock=clock) as reporter:
        for info in fit_steps(epochs=2, per_epoch=3, seconds_per_step=0.01, clock=clock):
            reporter.on_step(info)
        assert reporter._fit.bar.n == 6 and len(tqdm._instances) == 1
        reporter(1, 2, "stage a")
        assert len(tqdm._instances) == 1  # the fit's bar closed before the stage's opened: none nested
        reporter(2, 2, "stage a")
    assert not tqdm._instances
    assert "6/6" in out.getvalue() and "stage a" in out.getvalue()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(folder, data file, config file): a small recording of small images and a small DINA."""
    folder = tmp_path_factory.mktemp("progress")
    data = simulate_recording(SimConfig.small(image_shape=(16, 32), n_train_images=120, n_validation_images=30,
                                              n_test_images=10, n_neurons=60))
    write_dataset(folder / "tiny.h5", data)
    (folder / "tiny.json").write_text(json.dumps({"model": TINY_MODEL, "train": {"batch_size": 64}}))
    return folder, folder / "tiny.h5", folder / "tiny.json"


def _train_args(tiny, out: str) -> list[str]:
    folder, data, config = tiny
    return ["train", str(data), "--out", str(folder / out), "--epochs", "2", "--device", "cpu", "--config",
            str(config)]


def test_train_into_a_file_writes_readable_lines(tiny):
    folder = tiny[0]
    log = folder / "train.log"
    with open(log, "w") as stdout:  # the real thing: a process whose stdout is a file (auto: lines)
        subprocess.run([sys.executable, "-m", "dina_core.cli", *_train_args(tiny, "run")], stdout=stdout, check=True)
    text = log.read_text()
    assert_plain(text)
    lines = text.splitlines()
    epochs = [line for line in lines if re.match(r"train dina \(maps\): epoch \d", line)]
    assert [e.split(",")[0] for e in epochs] == ["train dina (maps): epoch 1", "train dina (maps): epoch 2"]
    for line in epochs:
        assert re.search(r"step \d+/\d+  loss \d+\.\d{3}  val top-1 \d\.\d{3}  elapsed \S+ s  ETA \S+ s", line)
    done = next(line for line in lines if line.startswith("train dina (maps): done"))
    steps, seconds = re.search(r"done, (\d+) steps in ([\d.]+) s", done).groups()
    per_second = re.search(r"\(([\d.]+) (step/s|s/step)\)", done)
    rate = float(per_second[1]) if per_second[2] == "step/s" else 1 / float(per_second[1])
    # the rate is the fit's steps over its time (both as printed, to three digits), never an absurd 798915 step/s
    half = 0.5 * 10 ** -len(seconds.split(".")[1])
    assert int(steps) / (float(seconds) + half) <= rate * 1.006 and rate <= 1.006 * int(steps) / (float(seconds) - half)
    assert rate < 1000
    metadata = json.loads((folder / "run" / "run.json").read_text())["metadata"]
    assert float(seconds) <= metadata["train_seconds"]  # the maps' fit, timed within the whole training
    assert any(line.startswith("train dina (linear level): done,") for line in lines)  # reported as it fits
    assert lines[-1].startswith("validation top-1")


def test_progress_none_prints_only_the_result(tiny, capsys):
    assert main(["--progress", "none", *_train_args(tiny, "quiet")]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("validation top-1")


def test_progress_bar_into_a_file_still_works(tiny, tmp_path, monkeypatch):
    log = tmp_path / "bar.log"
    with open(log, "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        assert main([*_train_args(tiny, "bar"), "--progress", "bar"]) == 0
    text = log.read_bytes().decode()  # as written: a bar redraws itself with carriage returns
    assert "\r" in text and "train dina (maps): 100%" in text and "4/4" in text
    assert text.splitlines()[-1].startswith("validation top-1")


def test_benchmark_says_which_model_and_analyze_reports_stages(tiny, capsys):
    folder, data, _ = tiny
    assert main(["benchmark", str(data), "--out", str(folder / "bench"), "--epochs", "1", "--models", "linear",
                 "ridge", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines.index("model 1/2: linear") < lines.index("model 2/2: ridge")
    assert any(line.startswith("linear: done, ") for line in lines)

    from dina_core.data.io import read_dataset
    from dina_core.interpret.analyze import AnalyzeConfig, analyze
    from dina_core.runs.run import load_run
    calls = []
    analyze(load_run(folder / "bench" / "linear"), read_dataset(data),
            config=AnalyzeConfig(manipulations=("contrast", "patch_shuffle"), random_draws=2, interaction_neurons=3,
                                 attribution_steps=2), progress=lambda *call: calls.append(call))
    assert_follows_progress_contract(calls)
    assert ("structure probes" in {c[2] for c in calls}) and calls[0] == (0, 1, "test-tier retrieval")


def test_progress_is_an_option_of_every_command_with_a_clear_error(tiny, capsys):
    assert main([*_train_args(tiny, "never"), "--progress", "fancy"]) == 2
    assert "--progress" in capsys.readouterr().err and not (tiny[0] / "never").exists()
