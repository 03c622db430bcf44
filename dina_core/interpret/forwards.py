"""The functions Captum attributes, and the guard that removes the hooks a call leaves.

The forward functions are small closures over the model, each ``forward(inputs, fixed)`` with
the fixed tensor passed per row as an additional forward argument (so Captum expands it with
the inputs):

* ``similarity_forward``: image -> its similarity with a fixed response embedding;
* ``margin_forward``: image -> similarity to its own response minus the mean (or max) of
  its similarities to the other candidate responses: the evidence retrieval acts on;
* ``response_forward``: response -> its similarity with a fixed image embedding.

``hooks_removed`` deletes any module hook added inside it, even when an attribution raises;
``replaced_output`` makes a module return a given tensor inside a block (``masked_eval`` folds layers so).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from ..model import TwoTowerModel

PairForward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (inputs, per-row fixed tensor) -> (B,)
_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_HOOK_EXTRAS = ("_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks_with_kwargs")


@contextlib.contextmanager
def hooks_removed(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Remove, on exit and even on error, every module hook registered on ``model`` inside the block."""
    before = {(id(m), name): set(getattr(m, name)) for m in model.modules() for name in _HOOK_DICTS}
    try:
        yield model
    finally:
        for m in model.modules():
            for name in _HOOK_DICTS:
                hooks = getattr(m, name)
                for key in set(hooks) - before.get((id(m), name), set()):
                    del hooks[key]
                    for extra in _HOOK_EXTRAS:
                        getattr(m, extra, {}).pop(key, None)


@contextlib.contextmanager
def replaced_output(module: torch.nn.Module, value: torch.Tensor) -> Iterator[None]:
    """Inside the block, ``module`` returns ``value`` whatever its input; the hook is always removed."""
    handle = module.register_forward_hook(lambda _m, _i, _o: value)
    try:
        yield
    finally:
        handle.remove()


def similarity_forward(model: TwoTowerModel, level: str | None = None) -> PairForward:
    """forward(images (B, 1, H, W), response_embeddings (B, D)) -> (B,) similarity of each pair at ``level``."""
    def forward(images: torch.Tensor, response_embeddings: torch.Tensor) -> torch.Tensor:
        return (model.encode_image(images, level=level) * response_embeddings).sum(dim=-1)
    return forward


def margin_forward(model: TwoTowerModel, candidates: torch.Tensor, level: str | None = None,
                   reduce: str = "mean") -> PairForward:
    """forward(images (B, 1, H, W), true_index (B,) int) -> (B,) retrieval margin.

    ``candidates`` (N, D) are response embeddings; an image's margin is its similarity to
    ``candidates[true_index]`` minus the mean (``reduce='mean'``) or the max (``'max'``)
    of its similarities to the other N - 1 candidates.
    """
    if reduce not in ("mean", "max"):
        raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
    if len(candidates) < 2:
        raise ValueError("a margin needs at least 2 candidates")

    def forward(images: torch.Tensor, true_index: torch.Tensor) -> torch.Tensor:
        scores = model.encode_image(images, level=level) @ candidates.T  # (B, N)
        own = scores.gather(1, true_index[:, None])[:, 0]
        if reduce == "mean":
            return own - (scores.sum(dim=1) - own) / (len(candidates) - 1)
        is_own = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, true_index[:, None], True)
        return own - scores.masked_fill(is_own, float("-inf")).max(dim=1).values
    return forward


def response_forward(model: TwoTowerModel, level: str | None = None) -> PairForward:
    """forward(responses (B, n_neurons), image_embeddings (B, D)) -> (B,) similarity of each pair."""
    def forward(responses: torch.Tensor, image_embeddings: torch.Tensor) -> torch.Tensor:
        return (model.encode_response(responses, level=level) * image_embeddings).sum(dim=-1)
    return forward
