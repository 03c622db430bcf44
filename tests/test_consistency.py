"""Several recordings: images matched by content, simulated animals of one visual system, and consistency."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from dina_core.cli import main
from dina_core.data.format import write_dataset
from dina_core.data.matching import shared_images
from dina_core.errors import DinaError
from dina_core.evaluate.consistency import Recording, consistency
from dina_core.runs.config import TrainConfig
from dina_core.runs.run import save_run
from dina_core.simulate import SimConfig, simulate_recording
from dina_core.simulate.animals import simulate_animals
from dina_core.train.run import train_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from real_fixtures import SHARED, antolik  # noqa: E402  (the shared real recordings, read in place)

MAPS_ONLY = {"encoding_model_level": False, "linear_level": False}  # DINA's maps alone: quick to train


def test_images_are_matched_by_content_not_by_index():
    images = simulate_recording(SimConfig.small()).images[:40]
    other = np.concatenate([images[::-1][:30] / 255.0, np.random.default_rng(0).uniform(0, 1, (5, 36, 64))])
    rows_a, rows_b = shared_images(images, other.astype(np.float32))  # reversed, rescaled, plus 5 others
    assert list(rows_a) == list(range(10, 40)) and list(rows_b) == [39 - i for i in range(10, 40)]
    rounded = np.round(images * 1e-6, 12).astype(np.float32)  # stored x 1e-6, as the Antolik files are
    assert len(shared_images(images, rounded)[0]) == 40
    assert len(shared_images(images[:5], np.zeros((3, 36, 64), np.float32))[0]) == 0
    with pytest.raises(DinaError, match="36 x 64 and 18 x 32 pixels"):
        shared_images(images, images[:, ::2, ::2])


def test_simulated_animals_share_the_stated_images_and_differ_in_neurons():
    config = SimConfig.small()
    animals = simulate_animals(3, shared_fraction=0.5, config=config, different=(2,))
    first, second, third = animals
    rows_a, rows_b = shared_images(first.images, second.images)
    assert len(rows_a) == round(0.5 * 400) + round(0.5 * 60) + round(0.5 * 30)
    for tier, n in (("test", 15), ("train", 200)):
        shown = set(first.image_index[first.tier_mask(tier)])
        assert sum(r in shown for r in rows_a) == n  # shared within each tier
    assert not np.allclose(first.ground_truth["rf_centers"], second.ground_truth["rf_centers"])
    assert [a.attrs["study"]["feature_model"] for a in animals] == ["gabor", "gabor", "luminance"]
    again = simulate_animals(3, shared_fraction=0.5, config=config, different=(2,))
    assert all(np.array_equal(a.responses, b.responses) for a, b in zip(animals, again))
    assert simulate_recording(config).responses.tobytes() == simulate_recording(config).responses.tobytes()


@pytest.mark.slow
def test_animals_of_one_visual_system_are_consistent_and_another_feature_model_is_not(tmp_path):
    config = SimConfig.small(n_neurons=300, n_train_images=800)
    animals = simulate_animals(3, config=config, different=(2,))
    recordings = []
    for i, data in enumerate(animals):
        run, _ = train_run(data, None, model_config=MAPS_ONLY, train_config=TrainConfig(epochs=10))
        recordings.append(Recording(f"animal{i + 1}", data, run))
    result = consistency(recordings)
    m, c = np.array(result["matrix"], dtype=float), np.array(result["control"], dtype=float)
    same = min(m[0, 1], m[1, 0])
    assert same > 0.2 and same > np.nanmax(np.abs(c)) + 0.15, result  # far above the shuffled labels
    assert same > max(m[0, 2], m[2, 0], m[1, 2], m[2, 1]) + 0.05, result  # the luminance animal: less consistent
    assert result["n_shared"][0][1] == 400 + 30 + 15  # half of each tier
    for i, (data, rec) in enumerate(zip(animals[:2], recordings[:2])):  # the command line on saved runs
        write_dataset(tmp_path / f"a{i}.h5", data)
        rec.run.metadata["data_path"] = str(tmp_path / f"a{i}.h5")
        save_run(rec.run, tmp_path / f"run{i}")
    assert main(["consistency", str(tmp_path / "run0"), str(tmp_path / "run1"), "--json",
                 str(tmp_path / "c.json")]) == 0
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["matrix"][0][1] == pytest.approx(result["matrix"][0][1], abs=1e-3)  # saved and reloaded
    assert written["n_shared"] == [[data.n_images, 445], [445, data.n_images]]


@pytest.mark.skipif(not (SHARED / "antolik2016_validation").is_dir(),
                    reason=f"the real Antolik recordings are not in {SHARED} (../shared/data)")
def test_two_real_regions_shown_the_same_images_are_consistent():
    recordings = []
    for region in (1, 2, 3):
        data = antolik(region)
        run, _ = train_run(data, None, model_config=MAPS_ONLY, train_config=TrainConfig(epochs=30))
        recordings.append(Recording(f"region{region}", data, run))
    result = consistency(recordings)
    assert result["n_shared"][0][1] == 50 and result["n_shared"][0][2] == result["n_shared"][1][2] == 0
    for i, j in ((0, 1), (1, 0)):
        assert result["matrix"][i][j] > result["control"][i][j] + 2 * result["control_sd"][i][j], result
    assert result["matrix"][0][2] is None and result["control"][2][1] is None  # region 3 saw other images
    with pytest.raises(DinaError, match="the same recording as region1"):
        consistency([recordings[0], Recording("again", recordings[0].data, recordings[0].run)])


def test_simulate_animals_on_the_command_line(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "study"), "--animals", "2", "--size", "small",
                 "--shared-fraction", "0.25"]) == 0
    files = sorted((tmp_path / "study").glob("*.h5"))
    assert [f.name for f in files] == ["animal1.h5", "animal2.h5"]
    assert main(["simulate", str(tmp_path / "study"), "--animals", "2", "--size", "small"]) == 2  # no --overwrite
    assert main(["simulate", str(tmp_path / "s2"), "--animals", "2", "--different-features", "3"]) == 2
    assert "expected animals 1..2" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "s3"), "--animals", "0"]) == 2
    assert main(["simulate", str(tmp_path / "one.h5"), "--shared-fraction", "0.5"]) == 2
    assert "only with --animals" in capsys.readouterr().err
    assert not (tmp_path / "s3").exists() and not (tmp_path / "one.h5").exists()
