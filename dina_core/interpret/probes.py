"""Which visual structure does decoding rest on? Retrieval with manipulated candidate images.

The model is not retrained and the responses are untouched: only the N candidate test
images are manipulated (on raw grey levels, then normalised like any image), and
neural -> image retrieval is re-scored as the manipulation grows stronger. If accuracy
survives blurring but not the removal of coarse structure, the match rests on coarse
structure; if it survives phase scrambling, on the power spectrum alone; and so on.

Every manipulation is a function ``(images (n, H, W) grey levels, strength, rng) -> images``
of the same shape and (floating) dtype, registered in ``MANIPULATIONS`` with a default
strength grid and a description for the figure legend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from ..data.format import DinaData
from ..evaluate.retrieval import topk_accuracy, target_ranks
from ..evaluate.tasks import tier_task
from ..model.inference import encode_images, encode_responses
from ..progress import Progress
from ..runs.prepare import PreparedData
from ..runs.run import Run, check_compatible

ImageFn = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
SHAPE_SEGMENTS = 40  # superpixels per image for ``shape_only``: a few per object at 36 x 64


def _float(images: np.ndarray) -> tuple[np.ndarray, np.dtype]:
    """float64 working copy and the dtype to return (the input's if floating, else float32)."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (n, H, W), got shape {images.shape}")
    dtype = images.dtype if np.issubdtype(images.dtype, np.floating) else np.dtype(np.float32)
    return images.astype(np.float64), dtype


def _mean_grey(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=(1, 2), keepdims=True)


def low_pass(images: np.ndarray, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Gaussian blur of sd ``sigma`` pixels (reflecting borders); sigma 0 is the identity."""
    x, dtype = _float(images)
    return (ndimage.gaussian_filter(x, sigma=(0, sigma, sigma), mode="reflect") if sigma > 0 else x).astype(dtype)


def high_pass(images: np.ndarray, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Image minus its ``low_pass`` at the same sigma, on the image's mean grey.

    Complementary to ``low_pass``: ``low_pass(x, s) + high_pass(x, s) - mean(x) == x``.
    Sigma 0 leaves a uniform mean-grey image; large sigma approaches the identity.
    """
    x, dtype = _float(images)
    return (x - low_pass(x, sigma) + _mean_grey(x)).astype(dtype)


def phase_scramble(images: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Add ``fraction`` x a uniformly random phase to every Fourier component.

    The random phase is that of the FFT of white noise, which is odd in frequency, so the
    result stays real and the amplitude spectrum is kept exactly. Self-conjugate
    frequencies (DC, Nyquist rows and columns) keep their phase, so the mean grey is kept.
    Fraction 1 gives a fully random phase; values may leave the original grey range.
    """
    x, dtype = _float(images)
    phase = np.angle(np.fft.fft2(rng.standard_normal(x.shape)))
    h, w = x.shape[1:]
    rows, cols = np.flatnonzero(np.arange(h) * 2 % h == 0), np.flatnonzero(np.arange(w) * 2 % w == 0)
    phase[:, rows[:, None], cols[None, :]] = 0.0
    return np.fft.ifft2(np.fft.fft2(x) * np.exp(1j * fraction * phase)).real.astype(dtype)


def patch_shuffle(images: np.ndarray, fraction: float, rng: np.random.Generator,
                  patch: int | None = None) -> np.ndarray:
    """Move a ``fraction`` of square patches to one another's places (a random cycle, so each moves).

    Patches are ``patch`` pixels wide (default H // 6: 6 px at 36 x 64, about a simulated
    receptive field) on a grid centred in the image; border pixels outside the grid stay.
    Pixels are only permuted, so each image's grey-level histogram is kept exactly.
    """
    x, dtype = _float(images)
    n, h, w = x.shape
    p = patch or max(2, h // 6)
    nh, nw = h // p, w // p
    r0, c0 = (h - nh * p) // 2, (w - nw * p) // 2
    grid = x[:, r0:r0 + nh * p, c0:c0 + nw * p].reshape(n, nh, p, nw, p).transpose(0, 1, 3, 2, 4)
    blocks = grid.reshape(n, nh * nw, p, p)
    n_move = int(round(fraction * nh * nw))
    order = np.tile(np.arange(nh * nw), (n, 1))
    if n_move >= 2:
        for row in order:
            chosen = rng.choice(nh * nw, size=n_move, replace=False)
            row[np.roll(chosen, 1)] = chosen  # the place of chosen[i-1] now shows chosen[i]
    shuffled = blocks[np.arange(n)[:, None], order].reshape(n, nh, nw, p, p).transpose(0, 1, 3, 2, 4)
    out = x.copy()
    out[:, r0:r0 + nh * p, c0:c0 + nw * p] = shuffled.reshape(n, nh * p, nw * p)
    return out.astype(dtype)


def shape_only(images: np.ndarray, fraction: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Blend each image towards its texture-free version: superpixels painted in their mean grey.

    Superpixels are SLIC segments (``SHAPE_SEGMENTS`` per image, on the image rescaled
    to 0..1) that follow grey-level edges, so outlines and layout stay while texture
    within regions goes. Fraction 0 is the identity, 1 the fully flattened image.
    """
    from skimage.segmentation import slic  # scikit-image is heavy to import; only this probe needs it

    x, dtype = _float(images)
    flat = np.empty_like(x)
    for i, image in enumerate(x):
        span = np.ptp(image)
        scaled = (image - image.min()) / span if span > 0 else np.zeros_like(image)
        labels = slic(scaled, n_segments=SHAPE_SEGMENTS, compactness=0.1, channel_axis=None, start_label=0)
        means = np.bincount(labels.ravel(), weights=image.ravel()) / np.bincount(labels.ravel())
        flat[i] = means[labels]
    return ((1.0 - fraction) * x + fraction * flat).astype(dtype)


def reduce_contrast(images: np.ndarray, fraction: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Scale each image's deviations from its mean grey by ``1 - fraction`` (1: uniform grey)."""
    x, dtype = _float(images)
    mean = _mean_grey(x)
    return (mean + (1.0 - fraction) * (x - mean)).astype(dtype)


@dataclass(frozen=True)
class Manipulation:
    """A registered image manipulation."""

    apply: ImageFn  # (images (n, H, W), strength, rng) -> images (n, H, W)
    strengths: tuple[float, ...]  # default grid, weakest first
    unit: str  # what a strength value means, for axis labels
    identity: float | None  # strength that leaves images unchanged, None if none does
    description: str  # one line for a biologist


_SIGMAS = (0.5, 1.0, 2.0, 4.0, 8.0)  # shared by low- and high-pass so curves match sigma for sigma
_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)

MANIPULATIONS: dict[str, Manipulation] = {
    "low_pass": Manipulation(low_pass, (0.0, *_SIGMAS), "Gaussian sigma (px)", 0.0,
                             "Blur: keeps coarse shapes and luminance, removes fine edges and texture."),
    "high_pass": Manipulation(high_pass, _SIGMAS, "Gaussian sigma (px)", None,
                              "Fine detail only: the image minus its blur at the same sigma, on mean grey."),
    "phase_scramble": Manipulation(phase_scramble, _FRACTIONS, "fraction of random phase", 0.0,
                                   "Phase scrambling: same spatial-frequency power, structure moved at random."),
    "patch_shuffle": Manipulation(patch_shuffle, _FRACTIONS, "fraction of patches moved", 0.0,
                                  "Patch shuffling: local texture kept, global shape and layout destroyed."),
    "shape_only": Manipulation(shape_only, _FRACTIONS, "fraction of texture removed", 0.0,
                               "Texture removed: regions painted in their mean grey; outlines and layout kept."),
    "contrast": Manipulation(reduce_contrast, (0.0, 0.25, 0.5, 0.75, 0.9, 1.0), "fraction of contrast removed", 0.0,
                             "Contrast reduction towards each image's mean grey (1 = uniform grey)."),
}


@torch.no_grad()
def structure_probe(run: Run, data: DinaData, manipulation: str | ImageFn, strengths: tuple[float, ...] | None = None,
                    *, responses: str = "averaged", seed: int = 0, prepared: PreparedData | None = None
                    ) -> list[dict]:
    """Neural -> image retrieval on the test tier with manipulated candidate images.

    Args:
        run: a trained run.
        data: a recording compatible with the run.
        manipulation: a key of ``MANIPULATIONS`` or an ``ImageFn``.
        strengths: strengths to score; default the manipulation's grid (required for a function).
        responses: 'averaged' (one repeat-averaged query per image) or 'single_trial'.
        seed: every strength draws its randomness from the same seed, so curves are smooth.
        prepared: ``run.prepare(data)`` when the caller already has it.

    Returns:
        One dict per strength: {'strength', 'top1', 'top5'}; chance top-1 is 1 / N test images.
    """
    if isinstance(manipulation, str):
        if manipulation not in MANIPULATIONS:
            raise ValueError(f"unknown manipulation {manipulation!r}; expected one of {sorted(MANIPULATIONS)}")
        fn, strengths = MANIPULATIONS[manipulation].apply, strengths or MANIPULATIONS[manipulation].strengths
    elif strengths is None:
        raise ValueError("strengths are required when manipulation is a function")
    else:
        fn = manipulation
    check_compatible(run, data)
    prepared = prepared if prepared is not None else run.prepare(data)
    device = next(run.model.parameters()).device
    task = tier_task(prepared, "test")
    queries, targets = task.queries(responses)
    query_emb = encode_responses(run.model, queries)
    rows = []
    for strength in strengths:
        images = fn(data.images[task.candidates], float(strength), np.random.default_rng(seed))
        image_emb = encode_images(run.model, torch.from_numpy(run.preprocessing.images(images)).to(device))
        ranks = target_ranks(query_emb, image_emb, targets)
        rows.append({"strength": float(strength), "top1": topk_accuracy(ranks, 1), "top5": topk_accuracy(ranks, 5)})
    return rows


def run_probes(run: Run, data: DinaData, manipulations: list[str] | None = None, *, responses: str = "averaged",
               seed: int = 0, prepared: PreparedData | None = None,
               progress: Progress | None = None) -> dict[str, list[dict]]:
    """``structure_probe`` for each named manipulation (all registered ones by default) at its grid.

    Returns:
        {name: [{'strength', 'top1', 'top5'}, ...]}. ``progress(done, total, "structure probes")`` is called
        after each manipulation (``done`` of ``total`` manipulations: the contract of ``dina_core.progress``).
    """
    names = list(manipulations or MANIPULATIONS)
    prepared = prepared if prepared is not None else run.prepare(data)
    out = {}
    for i, name in enumerate(names):
        out[name] = structure_probe(run, data, name, responses=responses, seed=seed, prepared=prepared)
        if progress is not None:
            progress(i + 1, len(names), "structure probes")
    return out


def probe_info(manipulations: list[str] | tuple[str, ...] | None = None) -> dict[str, dict[str, str]]:
    """{name: {'unit', 'description'}} of each named manipulation (all registered ones for None)."""
    return {name: {"unit": MANIPULATIONS[name].unit, "description": MANIPULATIONS[name].description}
            for name in (MANIPULATIONS if manipulations is None else manipulations)}
