"""Scores of the encoding-model baseline: identification by correlation or by Poisson likelihood, and the
encoding metrics labs report.

Identification (Kay et al. 2008) predicts every candidate image's rates once, (N, n_neurons), then ranks by

* ``correlation``: the Pearson correlation over neurons between the observed response and the predicted rates.
  With a behaviour gain the observed response is first divided by its trial's predicted gain (the response
  the model expects at average behaviour), so the score stays a dot product of a response embedding and an
  image embedding;
* ``log_likelihood``: the Poisson log-likelihood ``sum_i r_i log(g_i l_i) - g_i l_i - log Gamma(r_i + 1)`` of
  the observed response ``r`` under the candidate's rates ``l`` times the trial's gains ``g``, normalised over
  the tier's N candidate images: the log posterior of each candidate under a uniform prior (a Bayesian
  decoder). Neural -> image ranks are the raw likelihood's (the normaliser is the query's own); image ->
  neural compares different responses, and the raw likelihood would rank a response likely under any image
  (a quiet trial) first for every image: on the small simulated recording it sat at chance. The score is the
  dot product of ``[r, -g, -log Z]`` with ``[log l, l, 1]``, ``log Z`` the log-sum-exp over candidates of the
  first two terms. Response rows average linearly, so the averaged task scores the mean log posterior of an
  image's repeats.

Both go through the tasks, ranks and bootstrap of :mod:`dina_core.evaluate.tasks`, as every other row.
The encoding metrics follow Sensorium 2022 (Willeke et al.) and Cadena et al. 2019: per-neuron correlation
to the repeat average, single-trial correlation, and the fraction of explainable variance explained (FEVE).
"""

from __future__ import annotations

import numpy as np
import torch

from ..model.encoding import IDENTIFICATION_RULES, LOG_FLOOR
from .encoding import EncodingFit
from .encoding_predict import image_rates, neuron_correlations, tier_prediction, trial_gains, zscore_rows
from .repeats import average_by_image, unique_targets
from .retrieval import topk_accuracy
from .tasks import TierEmbeddings, TierTask, score_tasks

FEV_THRESHOLD = 0.15  # FEVE is averaged over neurons whose explainable fraction exceeds this (Sensorium practice)


def response_rows(responses: torch.Tensor, gains: torch.Tensor, candidate_rates: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """(T, n) observed responses and (T, n) gains -> (T, 2n + 1) rows ``[r, -g, c]``.

    Without ``candidate_rates``, ``c = sum_i r_i log g_i - log Gamma(r_i + 1)``: a row's dot product with
    :func:`likelihood_image_rows` of some rates is the Poisson log-likelihood of the response under them. With
    (N, n) ``candidate_rates``, ``c = -log sum_j exp(r . log l_j - g . l_j)``: the dot product is the log
    posterior of each candidate (uniform prior), the score of the ``log_likelihood`` rule.
    """
    r, g = responses.float(), gains.float()
    if candidate_rates is None:
        own = (r * g.log() - torch.lgamma(r + 1.0)).sum(1, keepdim=True)
    else:
        rates = likelihood_image_rows(candidate_rates.to(r.device))
        own = -torch.logsumexp(torch.cat([r, -g], 1).double() @ rates[:, :-1].T.double(), 1, keepdim=True).float()
    return torch.cat([r, -g, own], 1)


def likelihood_image_rows(rates: torch.Tensor) -> torch.Tensor:
    """(N, n) rates -> (N, 2n + 1) rows ``[log l, l, 1]``: a dot product with a response row is its log-likelihood."""
    rates = rates.float()
    return torch.cat([rates.clamp_min(LOG_FLOOR).log(), rates, torch.ones(len(rates), 1, device=rates.device)], 1)


def tier_embeddings(fit: EncodingFit, tier: str, rule: str) -> TierEmbeddings:
    """The embeddings of ``tier``'s four tasks under identification ``rule`` ('correlation' | 'log_likelihood')."""
    if rule not in IDENTIFICATION_RULES:
        raise ValueError(f"rule must be one of {IDENTIFICATION_RULES}, got {rule!r}")
    model, data = fit.model, fit.data
    trials = torch.as_tensor(data.tier_trials[tier], device=data.responses.device)
    index = data.image_index[trials].cpu().numpy()
    candidates, _ = unique_targets(index)
    posterior_over = None
    if rule == "log_likelihood":
        posterior_over = image_rates(model, data.images[torch.as_tensor(candidates, device=data.images.device)])
    gains = trial_gains(model, data.behavior[trials]).to(trials.device)
    rows = response_rows(data.responses[trials], gains, posterior_over)
    task = TierTask.from_arrays(rows.cpu(), data.images, index, what=f"the {tier!r} tier")
    n = data.responses.shape[1]

    def rates(x) -> torch.Tensor:
        return image_rates(model, torch.as_tensor(x))

    if rule == "correlation":
        def encode_responses(x):
            x = torch.as_tensor(x)
            return zscore_rows(x[:, :n] / -x[:, n : 2 * n])
        return task.embed(encode_responses, lambda x: zscore_rows(rates(x)))
    return task.embed(torch.as_tensor, lambda x: likelihood_image_rows(rates(x)))


def identification_rows(fit: EncodingFit, tier: str = "test", seed: int = 0) -> dict[str, list[dict]]:
    """{rule: the four task rows of ``tier`` (:func:`~dina_core.evaluate.tasks.score_tasks`)} for both rules."""
    return {rule: score_tasks(tier_embeddings(fit, tier, rule), seed=seed) for rule in IDENTIFICATION_RULES}


def validation_top1(fit: EncodingFit) -> dict[str, float]:
    """{rule: single-trial neural -> image top-1 on the validation tier}: what chooses the rule."""
    return {rule: topk_accuracy(tier_embeddings(fit, "validation", rule).ranks("neural_to_image", "single_trial"), 1)
            for rule in IDENTIFICATION_RULES}


def chosen_rule(fit: EncodingFit, top1: dict[str, float]) -> str:
    """The config's rule, or with 'auto' the one with the higher validation top-1 (a tie: correlation, the classic)."""
    if fit.config.identification != "auto":
        return fit.config.identification
    return max(IDENTIFICATION_RULES, key=lambda rule: top1[rule])  # max keeps the first of equals


def fev(responses: np.ndarray, predictions: np.ndarray, image_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of explainable variance (FEV) and the fraction of it explained (FEVE), per neuron.

    Cadena et al. 2019, as Sensorium computes it: total variance ``s2`` of all trials (ddof 1), noise variance
    ``n2`` the mean over images of each image's variance across its repeats (ddof 1), ``FEV = (s2 - n2) / s2``
    and ``FEVE = 1 - (MSE - n2) / (s2 - n2)``. Only images shown at least twice take part.

    Args:
        responses: (T, n) observed single-trial responses.
        predictions: (T, n) predicted response of each trial, in the same units.
        image_index: (T,) image shown on each trial.

    Returns:
        fev, feve: (n,) float64 each; NaN where the neuron has no variance or no image repeats.
    """
    responses, predictions = np.asarray(responses, np.float64), np.asarray(predictions, np.float64)
    index = np.asarray(image_index)
    _, inverse, counts = np.unique(index, return_inverse=True, return_counts=True)
    keep = counts[inverse.ravel()] >= 2
    if not keep.any():
        return np.full(responses.shape[1], np.nan), np.full(responses.shape[1], np.nan)
    responses, predictions, index = responses[keep], predictions[keep], index[keep]
    _, inverse, counts = np.unique(index, return_inverse=True, return_counts=True)
    residuals = responses - average_by_image(responses, index)[inverse.ravel()]
    mean_squares = average_by_image(residuals**2, index)  # (n_images, n): each image's repeats
    noise = (mean_squares * (counts / (counts - 1.0))[:, None]).mean(0)  # ddof 1 per image, then the mean
    total = responses.var(axis=0, ddof=1)
    mse = ((responses - predictions) ** 2).mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        explainable = (total - noise) / total
        explained = 1.0 - (mse - noise) / (total - noise)
    bad = ~(total > 0)
    explainable[bad], explained[bad] = np.nan, np.nan
    return explainable, explained


def encoding_metrics(fit: EncodingFit, tier: str = "test") -> dict:
    """Means over neurons of ``tier``: correlation to the repeat average, single-trial correlation, FEVE.

    Predictions carry each trial's behaviour gain; the correlation to average compares repeat-averaged
    predictions with repeat-averaged responses across images (Sensorium). FEVE is averaged over neurons with
    FEV above ``FEV_THRESHOLD`` (None when no neuron is, or no image repeats).
    """
    p = tier_prediction(fit.model, fit.data, tier)
    predicted, observed = p.trials().cpu(), p.observed.cpu()
    target = p.target.cpu().numpy()
    averaged = neuron_correlations(torch.from_numpy(average_by_image(predicted.numpy(), target)),
                                   torch.from_numpy(average_by_image(observed.numpy(), target)))
    explainable, explained = fev(observed.numpy(), predicted.numpy(), target)
    kept = np.nan_to_num(explainable, nan=-np.inf) > FEV_THRESHOLD
    return {"tier": tier, "n_neurons": int(observed.shape[1]),
            "correlation_to_average": float(averaged.mean()),
            "single_trial_correlation": float(neuron_correlations(predicted, observed).mean()),
            "feve": float(explained[kept].mean()) if kept.any() else None,
            "fev_threshold": FEV_THRESHOLD, "n_neurons_feve": int(kept.sum()),
            "mean_fev": float(np.nanmean(explainable)) if np.isfinite(explainable).any() else None}


def evaluate_encoding(fit: EncodingFit, seed: int = 0) -> dict:
    """Everything the benchmark reports for a fitted encoding model (test tier; validation only chooses the rule).

    Returns:
        {'rows': the chosen rule's four test rows, 'scores': {'correlation': rows, 'log_likelihood': rows,
        'chosen': rule, 'validation_top1': {rule: top-1}}, 'metrics': :func:`encoding_metrics`,
        'training': best epoch, epochs run, best validation correlation, behaviour gain used}.
    """
    top1 = validation_top1(fit)
    rule = chosen_rule(fit, top1)
    scores = identification_rows(fit, "test", seed)
    training = {"best_epoch": fit.best_epoch, "epochs_run": len(fit.history),
                "best_val_correlation": fit.best_val_correlation, "behavior_gain": fit.model.gain is not None,
                "config": fit.config.to_dict()}
    return {"rows": scores[rule], "scores": {**scores, "chosen": rule, "validation_top1": top1},
            "metrics": encoding_metrics(fit, "test"), "training": training}
