"""Write a simulated recording in the exact Sensorium / neuralpredictors "static" folder layout.

The importer's tests and ``bench/bench_sensorium_import.py`` read these folders; ``zip_folder``
packs one as Sensorium ships it.

Layout (one file per trial ``i``; dtypes as in the released Sensorium 2022 data)::

    <name>/config.json
    <name>/data/images/{i}.npy        float32 (1, H, W), grey levels 0..255
    <name>/data/responses/{i}.npy     float64 (n_neurons,)
    <name>/data/behavior/{i}.npy      float64 (3,): pupil, d-pupil, running
    <name>/data/pupil_center/{i}.npy  float64 (2,)
    <name>/meta/trials/*.npy          per-trial arrays (tiers <U10, frame_image_id int64, ...)
    <name>/meta/neurons/*.npy         per-neuron arrays (unit_ids uint16, area <U2, ...)
    <name>/meta/statistics/<field>/{all,stimulus_frame}/{mean,std,min,max,median}.npy

Content is random but plausible; unlike ``simulate_recording`` it does not model any biology.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

NAME = "static26872-17-20-GrayImageNet-94c6ff995dac583098847cfecd43e7b6"


def _tiers(n_trials, n_test_images, n_final_images, repeats, rng):
    """Per-trial tiers and image ids; only test and final_test images repeat."""
    n_rep = (n_test_images + n_final_images) * repeats
    n_single = n_trials - n_rep
    if n_single < 2:
        raise ValueError("too few trials for the requested repeated images")
    n_val = max(1, n_single // 10)
    tiers = np.array(["train"] * (n_single - n_val) + ["validation"] * n_val
                     + ["test"] * (n_test_images * repeats)
                     + ["final_test"] * (n_final_images * repeats), dtype="<U10")
    image_of_trial = np.concatenate([np.arange(n_single),
                                     n_single + np.repeat(np.arange(n_test_images + n_final_images),
                                                          repeats)])
    order = rng.permutation(n_trials)
    ids = rng.choice(10 * (n_single + n_rep) + 1000, size=n_single + n_test_images
                     + n_final_images, replace=False).astype(np.int64)
    return tiers[order], ids[image_of_trial[order]], image_of_trial[order]


def _save_statistics(meta: Path, fields: dict[str, np.ndarray]) -> None:
    for field, values in fields.items():
        for kind in ("all", "stimulus_frame"):
            folder = meta / "statistics" / field / kind
            folder.mkdir(parents=True)
            for stat, fn in (("mean", np.mean), ("std", np.std), ("min", np.min),
                             ("max", np.max), ("median", np.median)):
                np.save(folder / f"{stat}.npy", fn(values, axis=0))


def write_sensorium_folder(root, n_trials: int = 60, n_neurons: int = 12,
                           image_shape: tuple[int, int] = (9, 16), *, n_test_images: int = 3,
                           n_final_images: int = 2, repeats: int = 4, name: str = NAME,
                           rng: np.random.Generator | None = None) -> Path:
    """Write a Sensorium static folder ``root/name`` and return its path.

    Trials are shuffled; train and validation images are shown once, test and
    final_test images ``repeats`` times each.
    """
    rng = rng or np.random.default_rng(0)
    folder = Path(root) / name
    tiers, frame_ids, image_of_trial = _tiers(n_trials, n_test_images, n_final_images,
                                              repeats, rng)
    n_images = int(image_of_trial.max()) + 1
    images = rng.integers(0, 256, (n_images, 1, *image_shape)).astype(np.float32)
    responses = rng.gamma(0.5, 0.4, (n_trials, n_neurons)) * (rng.random(n_neurons) > 0.1)
    behavior = np.column_stack([rng.normal(20, 3, n_trials), rng.normal(0, 0.5, n_trials),
                                np.abs(rng.normal(0, 5, n_trials))])
    pupil_center = rng.normal([200.0, 150.0], 10.0, (n_trials, 2))
    per_trial = {"images": images[image_of_trial], "responses": responses,
                 "behavior": behavior, "pupil_center": pupil_center}
    for field, values in per_trial.items():
        (folder / "data" / field).mkdir(parents=True)
        for i in range(n_trials):
            np.save(folder / "data" / field / f"{i}.npy", values[i])
    meta = folder / "meta"
    trials = {"tiers": tiers, "frame_image_id": frame_ids,
              "trial_idx": rng.permutation(n_trials).astype(np.int64),
              "animal_id": np.full(n_trials, 26872, dtype=np.int64),
              "session": np.full(n_trials, 17, dtype=np.int64),
              "scan_idx": np.full(n_trials, 20, dtype=np.int64),
              "condition_hash": np.array([f"h{k:019d}" for k in frame_ids], dtype="<U20"),
              "frame_image_class": np.full(n_trials, "imagenet", dtype="<U8"),
              "frame_last_flip": rng.uniform(0, 1e4, n_trials),
              "frame_pre_blank_period": np.full(3, 0.3),  # not per-trial: skipped
              "frame_info": np.array([{"k": i} for i in range(n_trials)], dtype=object)}
    neurons = {"unit_ids": np.arange(1, n_neurons + 1, dtype=np.uint16),
               "cell_motor_coordinates": rng.uniform(-300, 300, (n_neurons, 3)),
               "area": np.full(n_neurons, "V1", dtype="<U2"),
               "layer": np.array(["L2/3", "L4"] * n_neurons, dtype="<U4")[:n_neurons],
               "animal_ids": np.full(n_neurons, 26872, dtype=np.uint16),
               "sessions": np.full(n_neurons, 17, dtype=np.uint8),
               "scan_idx": np.full(n_neurons, 20, dtype=np.uint8)}
    for sub, arrays in (("trials", trials), ("neurons", neurons)):
        (meta / sub).mkdir(parents=True)
        for key, values in arrays.items():
            np.save(meta / sub / f"{key}.npy", values, allow_pickle=values.dtype == object)
    _save_statistics(meta, {k: v.reshape(n_trials, -1) if k != "images" else v
                            for k, v in per_trial.items()})
    (folder / "config.json").write_text(json.dumps({"normalize": True, "exclude": None}))
    return folder


def zip_folder(folder, zip_path, *, prefix: str | None = None,
               compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Zip ``folder`` with its members under ``prefix`` (default: the folder's name).

    ``prefix=""`` puts data/ and meta/ at the zip's top level; ``"outer/<name>"`` nests the
    folder one level deeper. Directory entries are written too, as zip tools do.
    """
    folder, zip_path = Path(folder), Path(zip_path)
    prefix = folder.name if prefix is None else prefix
    with zipfile.ZipFile(zip_path, "w", compression=compression, compresslevel=1) as zf:
        for path in sorted(folder.rglob("*")):
            arcname = "/".join(p for p in (prefix, path.relative_to(folder).as_posix()) if p)
            if path.is_dir():
                zf.writestr(arcname + "/", b"")
            else:
                zf.write(path, arcname)
    return zip_path
