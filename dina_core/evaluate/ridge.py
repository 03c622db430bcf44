"""Ridge-regression identification baseline: pixels -> responses, then correlation.

The classic identification recipe (Kay et al. 2008): fit a linear encoding model from
pixels to every neuron, predict the population response to each candidate image, and
identify an observed response as the candidate whose prediction correlates best with it
across neurons. Both are first expressed as deviations from the mean training response
(which every candidate shares) and, by default, z-scored per neuron with training
statistics so that a few high-rate neurons do not dominate the correlation. Embeddings
are row-wise z-scores divided by ``sqrt(n_neurons)``, so their dot product is exactly
that Pearson correlation and the model plugs into
:func:`dina_core.evaluate.tasks.evaluate_retrieval`.

All ridge penalties are solved from one eigendecomposition of the smaller Gram matrix
(pixels x pixels, or trials x trials when there are fewer trials than pixels):
``W(alpha) = C diag(1 / (lam + alpha)) B``, so the alpha grid costs a few small matmuls
instead of one fit per alpha. This is the same solution as ``sklearn.linear_model.Ridge``
with ``fit_intercept=True`` on the standardised pixels, at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from dina_core.evaluate.retrieval import target_ranks, topk_accuracy

_MIN_STD = 1e-8  # constant pixels/neurons: divide by 1 instead of ~0


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    """(n, k) rows z-scored and divided by sqrt(k); constant rows become zeros."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    out = np.divide(x, std * np.sqrt(x.shape[1]), out=np.zeros_like(x), where=std > _MIN_STD)
    return out.astype(np.float32)


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean over neurons of the coefficient of determination."""
    ss_res = ((y - pred) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return float(np.mean(1.0 - ss_res / np.maximum(ss_tot, _MIN_STD)))


def ridge_factors(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factors of the ridge solution for every penalty at once.

    The Gram matrix and its eigendecomposition are float64 (pixel Gram matrices are badly
    conditioned); the large products with ``y`` run in ``y``'s dtype (float32 halves the
    time of a 6,000 x 5,000 response matrix).

    Args:
        x: (n, p) float centred features.
        y: (n, k) float32 or float64 centred targets.

    Returns:
        c: (p, r) float64, lam: (r,) float64, b: (r, k) in ``y``'s dtype, with
        ``W(alpha) = c @ diag(1/(lam+alpha)) @ b`` the (p, k) minimiser of
        ``||y - x W||^2 + alpha ||W||^2``; ``r = min(n, p)``.
    """
    x64, xy = np.asarray(x, dtype=np.float64), np.asarray(x, dtype=y.dtype)
    primal = x.shape[1] <= x.shape[0]
    gram = x64.T @ x64 if primal else x64 @ x64.T
    # Threaded LAPACK eigh collapses when the cores are shared (on 2 busy cores, 2 threads were several
    # times slower than 1: bench/results/design_notes_cpu.md), so it runs on one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        lam, vec = np.linalg.eigh(gram)
    lam = np.clip(lam, 0.0, None)
    if primal:  # x'x = V lam V'
        return vec, lam, vec.T.astype(y.dtype) @ (xy.T @ y)
    return x64.T @ vec, lam, vec.T.astype(y.dtype) @ y  # x x' = U lam U', W = x'U (lam+a)^-1 U'y


@dataclass
class RidgeIdentifier:
    """Pixel ridge regression to all neurons, identifying images by correlation.

    Call :meth:`fit`, then use :meth:`encode_images` / :meth:`encode_responses` as the two
    towers of a dot-product retrieval model.
    """

    # Penalty grid; pixels have unit variance, so x'x ~ n_trials * I sets the scale.
    alphas: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)
    downsample: int = 1  # block-mean factor f on H and W: f**2 times fewer pixels, a faster fit
    standardize_responses: bool = True  # z-score neurons so high-rate cells do not dominate correlations
    min_val_identify: int = 20  # fewer validation trials than this: choose alpha by R^2, not top-1
    alpha_: float = field(init=False, default=float("nan"))  # chosen penalty
    val_scores_: list[dict] = field(init=False, default_factory=list)  # per alpha: alpha, top1, r2
    coef_: np.ndarray | None = field(init=False, default=None)  # (n_pixels, n_neurons), standardised units

    def _pixels(self, images: np.ndarray) -> np.ndarray:
        """(n, H, W) images -> (n, n_pixels) float64 block-mean downsampled pixels."""
        images = np.asarray(images, dtype=np.float64)
        if images.ndim != 3:
            raise ValueError(f"images must be (n, H, W), got shape {images.shape}")
        f = int(self.downsample)
        n, h, w = images.shape
        if f > 1:
            images = images[:, : h - h % f, : w - w % f]
            images = images.reshape(n, h // f, f, w // f, f).mean(axis=(2, 4))
        return images.reshape(n, -1)

    def _features(self, images: np.ndarray) -> np.ndarray:
        return (self._pixels(images) - self._x_mean) / self._x_std

    def _targets(self, responses: np.ndarray) -> np.ndarray:
        """(n, n_neurons) responses -> float32 deviations from the train mean, per-neuron scaled."""
        y = np.asarray(responses, dtype=np.float32)
        return (y - self._y_mean.astype(np.float32)) / self._y_std.astype(np.float32)

    def fit(
        self,
        images_train: np.ndarray,
        responses_train: np.ndarray,
        images_val: np.ndarray,
        responses_val: np.ndarray,
    ) -> RidgeIdentifier:
        """Fit on train trials for every alpha, keep the best on validation trials.

        Args:
            images_train: (n, H, W) image shown on each training trial.
            responses_train: (n, n_neurons) response on each training trial.
            images_val: (m, H, W) image shown on each validation trial.
            responses_val: (m, n_neurons) response on each validation trial.

        Returns:
            self, with ``alpha_``, ``val_scores_`` and ``coef_`` set. The model is fitted on
            training trials only; validation only picks alpha (by identification top-1
            among the m validation trials, ties broken by R^2; by R^2 alone when
            ``m < min_val_identify``).
        """
        pixels = self._pixels(images_train)
        self._x_mean, self._x_std = pixels.mean(axis=0), np.maximum(pixels.std(axis=0), _MIN_STD)
        y = np.asarray(responses_train)
        self._y_mean = y.mean(axis=0, dtype=np.float64)
        self._y_std = np.ones(y.shape[1])
        if self.standardize_responses:
            self._y_std = np.maximum(y.std(axis=0, dtype=np.float64), _MIN_STD)
        c, lam, b = ridge_factors((pixels - self._x_mean) / self._x_std, self._targets(y))
        self.val_scores_ = self._validation_scores(self._features(images_val) @ c, lam, b, responses_val)
        use_top1 = len(responses_val) >= self.min_val_identify
        best = max(self.val_scores_, key=lambda r: (r["top1"], r["r2"]) if use_top1 else r["r2"])
        self.alpha_ = best["alpha"]
        self.coef_ = (c / (lam + self.alpha_)).astype(np.float32) @ b.astype(np.float32)
        return self

    def _validation_scores(
        self, xc_val: np.ndarray, lam: np.ndarray, b: np.ndarray, responses_val: np.ndarray
    ) -> list[dict]:
        """Identification top-1 and R^2 on validation trials for each alpha.

        Args:
            xc_val: (m, r) validation features times the factor ``c`` of :func:`ridge_factors`.
            lam: (r,) and b: (r, n_neurons), the other two factors.
            responses_val: (m, n_neurons) validation responses.
        """
        y_val = self._targets(responses_val)
        resp_emb, scores = _zscore_rows(y_val), []
        for alpha in self.alphas:
            pred = (xc_val / (lam + alpha)).astype(b.dtype) @ b
            ranks = target_ranks(resp_emb, _zscore_rows(pred), np.arange(len(pred)))
            scores.append({"alpha": float(alpha), "top1": topk_accuracy(ranks, 1), "r2": _r2(y_val, pred)})
        return scores

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted responses, (n, H, W) -> (n, n_neurons), in the original response units."""
        if self.coef_ is None:
            raise RuntimeError("RidgeIdentifier.predict called before fit")
        return self._features(images) @ self.coef_ * self._y_std + self._y_mean

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """(n, H, W) images -> (n, n_neurons) float32 row-z-scored predictions / sqrt(n_neurons)."""
        if self.coef_ is None:
            raise RuntimeError("RidgeIdentifier.encode_images called before fit")
        return _zscore_rows(self._features(images) @ self.coef_)

    def encode_responses(self, responses: np.ndarray) -> np.ndarray:
        """(n, n_neurons) responses -> (n, n_neurons) float32 row-z-scored / sqrt(n_neurons)."""
        if self.coef_ is None:
            raise RuntimeError("RidgeIdentifier.encode_responses called before fit")
        return _zscore_rows(self._targets(responses))
