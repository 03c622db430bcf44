"""Where two animals' models agree about one image: the joint model's maps of a stimulus every recording saw.

In a joint run every recording's neural tower predicts latent maps in one space (the image side is shared), so for an
image that recordings A and B both saw, A's prediction from A's responses and B's from B's can be compared location
by location. For each recording the module gives the alignment map (its predicted latents against the image's, as
``DinaModel.alignment_map``: the per-location terms of the pair's similarity), and for each pair of recordings the
agreement map: the cosine, over latent channels, of their two predictions at each location (1: they predict the same
features there; near 0: unrelated). Responses are each recording's trial average for the image, normalised by its
own run's preprocessing.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from ..data.format import DinaData
from ..data.matching import shared_images
from ..model.inference import eval_mode
from ..runs.run import Run


def common_images(recordings: dict[str, DinaData]) -> dict[str, np.ndarray]:
    """{name: (n,) image rows} of the stimuli every recording saw, in the first recording's order (content match)."""
    names = list(recordings)
    first = recordings[names[0]].images
    rows = {names[0]: np.arange(len(first))}
    for name in names[1:]:
        a, b = shared_images(first[rows[names[0]]], recordings[name].images)
        rows = {n: r[a] for n, r in rows.items()}
        rows[name] = b
    return rows


def cross_animal_maps(runs: dict[str, Run], recordings: dict[str, DinaData], image_rows: dict[str, int],
                      stage: str) -> dict:
    """Maps of one shared stimulus at ``stage`` of a joint run's models.

    Args:
        runs: {name: Run} of one joint run (``runs.joint.JointRun.runs``), two or more.
        recordings: {name: its recording}.
        image_rows: {name: row of the shared stimulus in that recording's images} (``common_images``).
        stage: an aligned stage of the models (e.g. 'stage2').

    Returns:
        {'stage', 'image': (H, W) the stimulus (the first recording's pixels), 'alignment': {name: (h, w)},
        'agreement': {'A|B': (h, w) cosine in [-1, 1]}, 'similarity': {name: the pair's similarity at the stage}}.

    Raises:
        ValueError: ``stage`` is not aligned, or a recording never showed its image.
    """
    first = next(iter(runs.values())).model
    if stage not in first.map_shapes:
        raise ValueError(f"stage {stage!r}: not an aligned stage of this model ({', '.join(first.map_shapes)})")
    latents, alignment, similarity = {}, {}, {}
    for name, run in runs.items():
        data, row = recordings[name], int(image_rows[name])
        if not np.any(np.asarray(data.image_index) == row):
            raise ValueError(f"{name}: image {row} is shown on no trial")
        prepared = run.prepare(data)
        image = prepared.images[row:row + 1]
        response = prepared.responses[torch.as_tensor(np.flatnonzero(np.asarray(data.image_index) == row))]
        response = response.mean(0, keepdim=True)  # (1, n) the trial average
        with eval_mode(run.model), torch.no_grad():
            neural, _, _ = run.model.response_latent_maps(response)
            maps = run.model.alignment_map(image, response, stage)
        latents[name] = neural[stage][0]  # (L, h, w)
        alignment[name] = maps[0].numpy()
        similarity[name] = float(maps[0].sum())
    agreement = {f"{a}|{b}": F.cosine_similarity(latents[a], latents[b], dim=0).numpy()
                 for a, b in itertools.combinations(runs, 2)}
    name = next(iter(runs))
    return {"stage": stage, "image": np.asarray(recordings[name].images[int(image_rows[name])], dtype=np.float32),
            "alignment": alignment, "agreement": agreement, "similarity": similarity}
