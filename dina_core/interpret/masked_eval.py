"""Neural -> image retrieval under neuron masks, fast enough for an interactive slider.

A mask sets the masked neurons to their train mean (0 after z-scoring), exactly as
``encode_response(..., neuron_mask=...)`` does. Only a *branch*'s first linear layer over
the neurons sees the mask (DINA has two: the trunk, feeding the maps and the global level, and
its linear level's head; the linear two-tower one); what follows it is a fixed nonlinearity
(DINA's trunk: a LayerNorm; none for a linear head) and then maps that are affine up to each
level's L2 normalisation. So, with ``t`` the output of a branch's nonlinearity, each of its
levels ``l`` has ``z_l = A_l t + b_l`` and the combined score of a query against candidate
``j`` sums over all branches' levels

    sum_l w_l (P_l t + c_l)_j / ||A_l t + b_l||,   P_l = E_l A_l,  c_l = E_l b_l,

with ``E_l`` the candidates' normalised level-``l`` embeddings and
``||A_l t + b_l||^2 = t'G_l t + 2 g_l't + b_l'b_l`` (``G_l = A_l'A_l``, ``g_l = A_l'b_l``).
Everything but the first layers is folded once into (d, d) and (N, d) matrices, so a
mask costs one (Q, n) x (n, d) product per branch plus O(Q (N + d) d), and several masks run as
one batched product (see ``bench/bench_masked_eval.py``: milliseconds for 5,000 neurons
and 100 candidates on CPU). A 0/1 mask that differs from all-kept (or all-masked) in
only ``s < n / 4`` neurons (a pair ablated, the top 50 kept) replaces the product by an
(s x d) update of the unmasked first-layer output, leaving only the O(Q (N + d) d) part.

DINA's encoding levels have no layer over the neurons (``model.encoding_head``, ``model.encoding_model_level``;
``DinaModel.direct_response_levels``): each embeds the responses and the mask themselves, ``v(r, m)``, and its term
is ``w v . e_j / ||v||``, ``e_j`` the candidates' normalised embeddings, one (Q, D) x (D, N) product per mask.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from ..data.format import DinaData
from ..evaluate.tasks import tier_task
from ..model import LINEAR, DinaModel, LinearTwoTower, TwoTowerModel
from ..model.inference import encode_images
from ..runs.prepare import PreparedData
from ..runs.run import Run, check_compatible
from .forwards import replaced_output

SUPPORTED = (DinaModel, LinearTwoTower)
_MAX_CHUNK_ELEMENTS = 1 << 22  # masked responses held at once (16 MB of float32)
_SPARSE_RATIO = 4  # a sparse update pays off when fewer than n / 4 neurons differ from the base mask


def _branches(model: TwoTowerModel) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """(first linear layer over the neurons, fixed nonlinearity after it or None, its levels), by dotted name."""
    if isinstance(model, LinearTwoTower):
        return [("response_linear", None, model.levels)]
    linear = (LINEAR,) if model.neural_tower.linear_head is not None else ()
    trunk = tuple(lv for lv in model.levels if lv not in (*linear, *model.direct_response_levels()))
    return [branch for branch in (("neural_tower.trunk.0", "neural_tower.trunk.1", trunk),
                                  ("neural_tower.linear_head", None, linear)) if branch[2]]


class _Branch:
    """One first layer over the neurons, the nonlinearity after it, and its levels folded (see the module doc).

    Attributes:
        first: the (n -> d) linear layer the mask acts on; post: the fixed map after it (or Identity).
        full_pre: (Q, d) the first layer's output with every neuron kept.
        levels: per level (w, P (N, d), c (N,), G (d, d), g (d,), beta ()) in float64.
    """

    def __init__(self, first: nn.Linear, post: nn.Module, full_pre: torch.Tensor, levels: list[tuple]):
        self.first, self.post, self.full_pre, self.levels = first, post, full_pre, levels


class MaskedEvaluator:
    """Top-1 neural -> image retrieval of one run on one tier, for any number of neuron masks.

    Candidate embeddings and the queries live on the model's device from construction on.
    The run's model is read once, by copying it: the evaluator then scores masks through its
    own copy of the layers it needs, so a hook later added to the (possibly shared) model
    never fires inside it, and it never modifies the model.

    Example::

        ev = MaskedEvaluator(run, data)               # 'averaged' queries on the test tier
        ev.top1(np.ones(ev.n_neurons))                # == evaluate_run's neural->image top-1
        ev.top1(masks)                                # masks (K, n) 0/1 -> (K,) accuracies
    """

    def __init__(self, run: Run, data: DinaData, responses: str = "averaged", *, tier: str = "test",
                 prepared: PreparedData | None = None):
        """
        Args:
            run: a trained run (DINA or linear two-tower).
            data: a recording compatible with the run.
            responses: 'averaged' (N queries, one per image) or 'single_trial' (one per trial).
            tier: tier whose trials and images form the task.
            prepared: ``run.prepare(data)`` when the caller already has it (saves normalising twice).
        """
        model = run.model
        if not isinstance(model, SUPPORTED):
            raise TypeError(f"MaskedEvaluator supports {[c.__name__ for c in SUPPORTED]}, not {type(model).__name__}")
        check_compatible(run, data)
        prepared = prepared if prepared is not None else run.prepare(data)
        task = tier_task(prepared, tier)
        queries, targets = task.queries(responses)
        self.device, self.responses, self.tier = next(model.parameters()).device, responses, tier
        self._queries, self._targets = queries.to(self.device, torch.float32), torch.as_tensor(targets, device=self.device)
        own = copy.deepcopy(model).eval()  # a private copy: the shared model is never folded into
        images = task.images.to(self.device)
        self._n_candidates = len(images)  # no branch at all when every level reads the responses directly
        self._branches = [self._fold(own, images, first, post, levels) for first, post, levels in _branches(own)]
        # per direct level: (weight, embed(responses, mask) -> (B, D), (N, D) candidates' normalised embeddings)
        self._direct = [(own.level_weights[lv], embed, encode_images(own, images, level=lv).double())
                        for lv, embed in (own.direct_response_levels() if isinstance(own, DinaModel) else {}).items()]
        # Pessimistic ties as in evaluate.retrieval.target_ranks: |q| = |c| = sqrt(sum w).
        self._slack = torch.finfo(torch.float32).eps * sum(model.level_weights.values())

    @torch.no_grad()
    def _fold(self, model: TwoTowerModel, images: torch.Tensor, first_name: str, post_name: str | None,
              levels: tuple[str, ...]) -> _Branch:
        """One branch with its levels folded: per level w, P (N, d), c (N,), G (d, d), g (d,), beta () in float64.

        The affine map after the branch's tap (its nonlinearity, else its first layer) is read off by
        feeding it the origin and the unit vectors; ``model`` is the evaluator's own copy, so the run's
        model never carries the hook.
        """
        first = model.get_submodule(first_name)
        d = first.out_features
        basis = torch.cat([torch.zeros(1, d), torch.eye(d)]).to(self.device)
        with replaced_output(model.get_submodule(post_name or first_name), basis):
            outputs = model.response_levels(torch.zeros(d + 1, model.n_neurons, device=self.device))
        folded = []
        for level in levels:
            out = outputs[level].double()
            b, a = out[0], (out[1:] - out[0]).T  # a: (D_l, d) columns = images of the basis vectors
            e = encode_images(model, images, level=level).double()
            folded.append((model.level_weights[level], e @ a, e @ b, a.T @ a, a.T @ b, b @ b))
        post = model.get_submodule(post_name) if post_name else nn.Identity()
        return _Branch(first, post, first(self._queries), folded)  # full_pre: the all-kept first-layer output

    @property
    def n_neurons(self) -> int:
        return int(self._queries.shape[1])

    @property
    def n_queries(self) -> int:
        return int(self._queries.shape[0])

    @property
    def n_candidates(self) -> int:
        return self._n_candidates

    @property
    def chance(self) -> float:
        """Top-1 of a guesser, 1 / N."""
        return 1.0 / self.n_candidates

    def _masks(self, masks: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(n,) or (K, n) masks -> (K, n) float32 on the device."""
        m = torch.as_tensor(masks).to(self.device, torch.float32)
        if m.ndim not in (1, 2) or m.shape[-1] != self.n_neurons:
            raise ValueError(f"masks must be ({self.n_neurons},) or (K, {self.n_neurons}), got {tuple(m.shape)}")
        return m.reshape(-1, self.n_neurons)

    def _chunks(self, masks: np.ndarray | torch.Tensor) -> Iterator[torch.Tensor]:
        """(K, Q, N) float64 scores, a bounded number of masks at a time."""
        m = self._masks(masks)
        q, n = self._queries.shape
        widest = max((b.first.out_features for b in self._branches), default=0)
        widest_direct = max((c.shape[1] for _, _, c in self._direct), default=0)  # 2n + 1 for a likelihood
        step = max(1, _MAX_CHUNK_ELEMENTS // (q * max(n, widest, widest_direct, self.n_candidates)))
        for k0 in range(0, len(m), step):
            yield self._score(m[k0:k0 + step])

    @torch.no_grad()
    def _score(self, m: torch.Tensor) -> torch.Tensor:
        base = (m.sum(1) * 2 > self.n_neurons).float()  # 1: start from all kept, 0: from all masked
        binary = ((m == 0) | (m == 1)).all(1)
        sparse = ((m != base[:, None]).sum(1) * _SPARSE_RATIO < self.n_neurons) & binary
        dense_rows, sparse_rows = (~sparse).nonzero()[:, 0], sparse.nonzero()[:, 0]
        total = torch.zeros(len(m), self.n_queries, self.n_candidates, dtype=torch.float64, device=self.device)
        for branch in self._branches:
            pre = torch.empty(len(m), self.n_queries, branch.first.out_features, device=self.device)
            if len(dense_rows):
                pre[dense_rows] = branch.first(self._queries[None] * m[dense_rows, None, :])
            if len(sparse_rows):
                pre[sparse_rows] = self._pre_sparse(branch, m[sparse_rows], base[sparse_rows])
            t = branch.post(pre).double()
            for w, p, c, g_mat, g_vec, beta in branch.levels:
                norm2 = ((t @ g_mat) * t).sum(-1) + 2.0 * (t @ g_vec) + beta
                total += w * (t @ p.T + c) / norm2.clamp_min(0.0).sqrt().clamp_min(1e-12)[..., None]
        for w, embed, candidates in self._direct:
            k, (q, n) = len(m), self._queries.shape
            keep = m[:, None, :].expand(k, q, n).reshape(k * q, n)
            v = embed(self._queries[None].expand(k, q, n).reshape(k * q, n), keep).double().reshape(k, q, -1)
            total += w * (v @ candidates.T) / v.norm(dim=-1).clamp_min(1e-12)[..., None]
        return total

    def _pre_sparse(self, branch: _Branch, m: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """(K, n) 0/1 masks -> (K, Q, d): the branch's all-kept (or all-masked) first-layer output plus the
        changed neurons' terms."""
        delta = m - base[:, None]  # -1 where a kept-by-default neuron is masked, +1 for the reverse
        s = int((delta != 0).sum(1).max())
        idx = delta.abs().topk(s, dim=1).indices  # changed neurons first; padding has delta 0
        cols = self._queries[:, idx].permute(1, 0, 2) * delta.gather(1, idx)[:, None, :]  # (K, Q, s)
        start = torch.where(base[:, None, None] > 0, branch.full_pre, branch.first.bias)
        return start + torch.bmm(cols, branch.first.weight.T[idx])

    def scores(self, masks: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Combined similarity of every query with every candidate under each mask.

        Args:
            masks: (n_neurons,) or (K, n_neurons) 0/1 (or fractional) weight per neuron.

        Returns:
            (K, Q, N) float64 scores on the model's device (K = 1 for a single mask).
        """
        return torch.cat(list(self._chunks(masks)))

    def ranks(self, masks: np.ndarray | torch.Tensor) -> np.ndarray:
        """Rank of each query's image (0 = top-1), ties counted against the model.

        Returns:
            (Q,) int64 for a single mask, (K, Q) for a batch of masks.
        """
        parts = []
        for s in self._chunks(masks):
            correct = s.gather(2, self._targets.expand(len(s), -1)[..., None])
            parts.append((s >= correct - self._slack).sum(-1) - 1)  # the target itself always counts once
        ranks = torch.cat(parts).cpu().numpy().astype(np.int64)
        return ranks[0] if np.ndim(masks) == 1 else ranks

    def top1(self, masks: np.ndarray | torch.Tensor) -> float | np.ndarray:
        """Fraction of queries whose image ranks first: a float for (n,), (K,) for (K, n) masks."""
        hits = (self.ranks(masks) == 0).mean(axis=-1)
        return float(hits) if np.ndim(hits) == 0 else hits

    def margin(self, masks: np.ndarray | torch.Tensor) -> float | np.ndarray:
        """Mean over queries of (target score - best other score): a continuous top-1.

        Positive where the target wins; in similarity units (at most 2 * sum of level weights).
        Returns a float for (n,) masks, (K,) for (K, n).
        """
        parts = []
        for s in self._chunks(masks):
            target = self._targets.expand(len(s), -1)[..., None]
            others = s.scatter(2, target, -torch.inf).amax(-1)
            parts.append((s.gather(2, target)[..., 0] - others).mean(-1))
        out = torch.cat(parts).cpu().numpy()
        return float(out[0]) if np.ndim(masks) == 1 else out
