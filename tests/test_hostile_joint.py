"""Hostile use of the several-recordings paths: options that do not fit, linked recording folders, budgets and
names that cannot be, each a one-line error (exit 2) before any training, nothing written."""

import os

import pytest

from dina_core.cli import main
from dina_core.cli.recordings import recording_names
from dina_core.data.format import write_dataset
from dina_core.errors import CheckpointError, DinaError
from dina_core.runs.joint import load_joint_run
from dina_core.simulate import SimConfig
from dina_core.simulate.animals import simulate_animals
from dina_core.train.joint import train_joint
from dina_core.runs.config import TrainConfig


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("animals")
    paths = []
    for i, data in enumerate(simulate_animals(2, config=SimConfig.small(n_neurons=48, n_train_images=60,
                                                                        n_validation_images=10, n_test_images=6))):
        paths.append(str(folder / f"m{i + 1}.h5"))
        write_dataset(paths[-1], data)
    return paths


@pytest.mark.parametrize("extra, message", [
    (["--alpha", "nan"], "--alpha nan"), (["--alpha", "2"], "--alpha 2"), (["--kind", "linear"], "take one file"),
    (["--ensemble", "2"], "take one file"), (["--freeze-image-tower"], "take one file")])
def test_joint_options_that_do_not_fit_are_refused(files, tmp_path, capsys, extra, message):
    assert main(["train", *files, "--out", str(tmp_path / "run"), *extra]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_single_file_options_of_several_are_refused(files, tmp_path, capsys):
    assert main(["train", files[0], "--out", str(tmp_path / "run"), "--alpha", "0.5"]) == 2
    assert "only with several data files" in capsys.readouterr().err
    assert main(["fewshot", files[1], "--from", str(tmp_path / "none"), "--trials", "abc", "--out",
                 str(tmp_path / "fs")]) == 2
    assert "--trials 'abc'" in capsys.readouterr().err
    assert main(["train", files[0], files[0], "--out", str(tmp_path / "run")]) == 2
    assert "given twice" in capsys.readouterr().err


def test_recording_names_from_files():
    assert recording_names(["/a/my data.h5", "/b/x.h5"]) == ["my_data", "x"]
    assert recording_names(["/a/x.h5", "/b/x.h5"]) == ["a-x", "b-x"]
    assert recording_names(["/a/....h5", "/b/y.h5"])[0] == "recording"
    with pytest.raises(DinaError, match="do not tell the recordings apart"):
        recording_names(["/q/a/x.h5", "/r/a/x.h5"])


def test_a_recording_folder_linked_outside_the_run_is_refused(files, tmp_path):
    from dina_core.data.io import read_dataset
    out = tmp_path / "joint"
    train_joint({"m1": read_dataset(files[0]), "m2": read_dataset(files[1])}, out,
                train_config=TrainConfig(epochs=1, batch_size=32))
    elsewhere = tmp_path / "elsewhere"
    (out / "recordings" / "m2").rename(elsewhere)
    os.symlink(elsewhere, out / "recordings" / "m2")
    with pytest.raises(CheckpointError, match="leads outside the joint run"):
        load_joint_run(out)
