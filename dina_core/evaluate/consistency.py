"""Do two animals encode the same image features? Consistency of their models' neural-tower outputs (CEBRA's
measure, adapted to image-locked recordings).

For each recording, each stimulus's trial-averaged response (normalised as its run does) passes the run's neural
tower; the representation is the **aligned feature-map levels' latents** (each level L2-normalised, then
concatenated: what the neural tower predicts of the image, with the levels that are plain transforms of the
responses, ``linear`` and the encoding levels, left out; a run without map levels uses all its levels). For two
recordings, over the stimuli they share (matched by content, ``data.matching``), each representation is reduced to
its first ``COMPONENTS`` principal components on a random half of the shared images (thousands of map dimensions
from a few hundred images would leave any map unfitted), a ridge map from one's components to the other's is
fitted on that half and scored on the other half by R^2 (variance-weighted over the components), averaged over
``SPLITS`` random halves, in both directions. The control is the same with one recording's image labels shuffled:
a map that has only learnt the images' average scores near 0 or below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

from ..data.fingerprint import data_fingerprint
from ..data.format import DinaData
from ..data.matching import shared_images
from ..errors import DinaError
from ..model.config import ENCODING, ENCODING_MODEL, GLOBAL, LINEAR
from ..runs.run import Run, check_compatible

SPLITS = 5  # random half-splits of the shared images averaged per entry
COMPONENTS = 16  # principal components kept of each representation (fitted on the fitting half)
MIN_SHARED = 10  # fewer shared images than this: no entry (a half of 4 images fits nothing)
ALPHAS = np.logspace(-2, 5, 15)  # ridge penalties, chosen by leave-one-out on the fitting half
SEED = 0
VECTOR_LEVELS = (GLOBAL, LINEAR, ENCODING, ENCODING_MODEL)


@dataclass
class Recording:
    """One recording in a consistency matrix: its name, its data and the run trained on it."""

    name: str
    data: DinaData
    run: Run


def representation(run: Run, data: DinaData) -> np.ndarray:
    """(n_images, D) float32: each stimulus's trial-averaged response through the run's neural tower (module
    docstring); a stimulus no trial showed is a row of NaN."""
    responses = run.preprocessing.responses(data.responses, data.behavior, str(data.attrs.get("name", "recording")))
    sums = np.zeros((data.n_images, responses.shape[1]), dtype=np.float64)
    np.add.at(sums, data.image_index, responses)
    counts = np.bincount(data.image_index, minlength=data.n_images)
    averaged = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
    model = run.model
    levels = [lv for lv in model.levels if lv not in VECTOR_LEVELS] or list(model.levels)
    device = next(model.parameters()).device
    with torch.no_grad():
        parts = [model.encode_response(torch.from_numpy(averaged).to(device), level=lv).cpu().numpy() for lv in levels]
    out = np.concatenate(parts, axis=1)
    out[counts == 0] = np.nan
    return out


def _r2(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, shuffle: bool) -> tuple[float, float]:
    """(mean, sd) over ``SPLITS`` halves of the held-out R^2 of a ridge map x -> y on principal components (rows
    paired; shuffled: y's rows permuted first, within the fitting and the held-out half alike)."""
    scores = []
    for _ in range(SPLITS):
        order = rng.permutation(len(x))
        fit, held = order[: len(x) // 2], order[len(x) // 2:]
        y_fit, y_held = y[fit], y[held]
        if shuffle:
            y_fit, y_held = y_fit[rng.permutation(len(fit))], y_held[rng.permutation(len(held))]
        px = PCA(min(COMPONENTS, len(fit) - 1, x.shape[1])).fit(x[fit])
        py = PCA(min(COMPONENTS, len(fit) - 1, y.shape[1])).fit(y_fit)
        ridge = RidgeCV(alphas=ALPHAS).fit(px.transform(x[fit]), py.transform(y_fit))
        scores.append(r2_score(py.transform(y_held), ridge.predict(px.transform(x[held])),
                               multioutput="variance_weighted"))
    return float(np.mean(scores)), float(np.std(scores))


def consistency(recordings: list[Recording], seed: int = SEED) -> dict:
    """The K x K consistency matrix of ``recordings`` and its control.

    Raises:
        DinaError: a run that does not fit its recording, or one recording given twice.

    Returns:
        {'names': [K], 'matrix': K x K (entry [i][j]: R^2 of recording j's representation predicted from i's;
        1.0 on the diagonal; None where fewer than ``MIN_SHARED`` images are shared), 'control': the same with
        image labels shuffled, 'matrix_sd' / 'control_sd': their standard deviations over the random halves,
        'n_shared': K x K shared stimuli, 'notes': pairs not compared and why, 'representation': what was mapped}.
    """
    seen: dict[str, str] = {}
    for rec in recordings:
        check_compatible(rec.run, rec.data, rec.name)
        fingerprint = data_fingerprint(rec.data)
        if fingerprint in seen:
            raise DinaError(f"{rec.name}: the same recording as {seen[fingerprint]} (fingerprint {fingerprint[:12]}); "
                            "consistency compares different recordings")
        seen[fingerprint] = rec.name
    reps = [representation(rec.run, rec.data) for rec in recordings]
    k = len(recordings)
    matrix = [[1.0 if i == j else None for j in range(k)] for i in range(k)]
    control = [[None] * k for _ in range(k)]
    matrix_sd, control_sd, notes = [[None] * k for _ in range(k)], [[None] * k for _ in range(k)], []
    n_shared = [[int(recordings[i].data.n_images) if i == j else 0 for j in range(k)] for i in range(k)]
    for i in range(k):
        for j in range(i + 1, k):
            if recordings[i].data.image_shape != recordings[j].data.image_shape:
                notes.append(f"{recordings[i].name} and {recordings[j].name}: stimuli of other sizes "
                             f"({recordings[i].data.image_shape}, {recordings[j].data.image_shape}) are not matched")
                continue
            rows_i, rows_j = shared_images(recordings[i].data.images, recordings[j].data.images)
            shown = ~np.isnan(reps[i][rows_i]).any(axis=1) & ~np.isnan(reps[j][rows_j]).any(axis=1)
            rows_i, rows_j = rows_i[shown], rows_j[shown]
            n_shared[i][j] = n_shared[j][i] = int(len(rows_i))
            if len(rows_i) < MIN_SHARED:
                continue
            x, y = reps[i][rows_i], reps[j][rows_j]
            for (a, b, to) in ((x, y, (i, j)), (y, x, (j, i))):
                rng = np.random.default_rng([seed, *to])
                matrix[to[0]][to[1]], matrix_sd[to[0]][to[1]] = _r2(a, b, rng, shuffle=False)
                control[to[0]][to[1]], control_sd[to[0]][to[1]] = _r2(a, b, np.random.default_rng([seed, *to, 1]),
                                                                      shuffle=True)
    return {"names": [rec.name for rec in recordings], "matrix": matrix, "control": control,
            "matrix_sd": matrix_sd, "control_sd": control_sd, "n_shared": n_shared,
            "min_shared": MIN_SHARED, "splits": SPLITS, "notes": notes,
            "representation": "trial-averaged responses through each run's neural tower: the aligned map levels' "
                              "L2-normalised latents, concatenated"}
