"""The small real recordings in ``../shared/data`` as DinaData, for benches (never copied into the repo).

* Antolik et al. (2016) regions 1-3: 50 natural images (31 x 31) with 8-12 single-trial repeats. Only
  these 50 exist, so whole images are split 30 train / 10 validation / 10 test (seeded); every repeat
  of an image is a trial of its tier.
* Allen Brain Observatory natural scenes (de Vries et al. 2020): 118 scenes (31 x 31), trial-averaged
  dF/F of 212 VISp cells; the published split (100 train, of which 10 held out for validation, and
  18 test), one averaged "trial" per image, so single-trial and averaged scores coincide.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dina_core.data.format import DinaData


def _shared() -> Path:
    """$DINA_SHARED_DATA, else the nearest ``shared/data`` beside the repository or one of its parents."""
    if os.environ.get("DINA_SHARED_DATA"):
        return Path(os.environ["DINA_SHARED_DATA"])
    for parent in Path(__file__).resolve().parents[1:]:
        if (parent.parent / "shared" / "data").is_dir():
            return parent.parent / "shared" / "data"
    return Path(__file__).resolve().parents[2] / "shared" / "data"


SHARED = _shared()


def _recording(images, responses, image_index, tiers, name, citation) -> DinaData:
    return DinaData(images=np.asarray(images, dtype=np.float32), responses=np.asarray(responses, dtype=np.float32),
                    image_index=np.asarray(image_index, dtype=np.int64), tiers=np.asarray(tiers),
                    attrs={"name": name, "source": "shared fixture", "citation": citation, "license": "see README",
                           "response_unit": "a.u."})


def antolik(region: int, root: Path = SHARED, seed: int = 0) -> DinaData:
    folder = root / "antolik2016_validation" / f"region{region}"
    images = np.load(folder / "validation_inputs.npy").reshape(-1, 31, 31) * 1e6
    raw = np.load(folder / "raw_validation_set.npy")  # (repeats, 50, n)
    n_rep, n_img, n = raw.shape
    tier_of_image = np.empty(n_img, dtype=object)
    order = np.random.default_rng(seed).permutation(n_img)
    tier_of_image[order[:30]], tier_of_image[order[30:40]], tier_of_image[order[40:]] = "train", "validation", "test"
    image_index = np.tile(np.arange(n_img), n_rep)
    return _recording(images, raw.reshape(-1, n), image_index, tier_of_image[image_index].astype(str),
                      f"Antolik 2016 region {region}", "Antolik et al. (2016) PLoS Comput Biol 12(6): e1004927")


def allen(root: Path = SHARED) -> DinaData:
    folder = root / "allen_vc2p_natural_scenes"
    train_x, train_y = np.load(folder / "Allen_train_input.npy"), np.load(folder / "Allen_train_output.npy")
    test_x, test_y = np.load(folder / "Allen_test_input.npy"), np.load(folder / "Allen_test_output.npy")
    images = np.concatenate([train_x, test_x]).reshape(-1, 31, 31)
    tiers = np.array(["train"] * 90 + ["validation"] * 10 + ["test"] * len(test_x))
    return _recording(images, np.concatenate([train_y, test_y]), np.arange(len(images)), tiers,
                      "Allen VC2P natural scenes 511510667", "de Vries et al. (2020) Nat Neurosci 23:138-151")


def available() -> bool:
    return (SHARED / "antolik2016_validation").is_dir() and (SHARED / "allen_vc2p_natural_scenes").is_dir()
