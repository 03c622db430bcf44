"""State correction: the share of each neuron's response that behaviour explains, removed per trial.

Arousal (pupil size, running) scales and shifts V1 responses from trial to trial
independently of the stimulus. Fit on the train tier, for every neuron i, on the z-scored
response ``z`` and standardised behaviour features ``phi`` (the columns, then a 1):

    offset_i(b) = phi(b) . alpha_i                   ridge regression of z on phi
    log gain_i(b) = 0.5 * phi(b)[:-1] . beta_i[:-1]  ridge regression of log residual^2 on phi

and each trial becomes ``(z - offset(b)) / gain(b)``: the state-driven mean removed and the
state-driven spread divided out, before the neural tower sees the response. Regression on
the train tier, not a term trained through the contrastive loss, because every use of a
response (single trials, repeat-averaged responses, pruning) must see the same corrected
trial, and because two closed-form regressions cost a fraction of a second at Sensorium size.
Images do not enter the fit: on the train tier each image is shown about once, so the
stimulus-driven part of a response is noise to it, uncorrelated with behaviour.

Round-trips through plain lists (``to_dict``/``from_dict``) for weights-only checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIDGE = 1e-3  # ridge penalty per train trial: a few behaviour columns need little shrinkage
GAIN_RANGE = (0.25, 4.0)  # gains are clipped here: an outlying behaviour value cannot blow a trial up
_EPS = 1e-3  # keeps log(residual^2) finite for exact zeros (silent neurons)


def _ridge(phi: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(k, n) coefficients of y (T, n) on phi (T, k), penalty RIDGE * T on all but the intercept."""
    penalty = RIDGE * len(phi) * np.eye(phi.shape[1])
    penalty[-1, -1] = 0.0
    return np.linalg.solve(phi.T @ phi + penalty, phi.T @ y)


@dataclass
class BehaviorCorrection:
    """Per-neuron offset and gain predicted linearly from behaviour (see the module doc).

    Attributes:
        mean, std: (k,) float64 train-tier statistics of the behaviour columns.
        offset: (k + 1, n_neurons) float64 ridge coefficients of z on phi.
        log_gain: (k, n_neurons) float64 coefficients of log gain on the standardised columns.
    """

    mean: np.ndarray
    std: np.ndarray
    offset: np.ndarray
    log_gain: np.ndarray

    @classmethod
    def fit(cls, z_train: np.ndarray, behavior_train: np.ndarray) -> "BehaviorCorrection":
        """Fit on train trials: z_train (T, n) z-scored responses, behavior_train (T, k) raw columns."""
        b = np.asarray(behavior_train, dtype=np.float64)
        finite = np.isfinite(b)
        counts = np.maximum(finite.sum(axis=0), 1)
        mean = np.where(finite, b, 0.0).sum(axis=0) / counts
        var = np.where(finite, (b - mean) ** 2, 0.0).sum(axis=0) / counts
        std = np.where(var > 0, np.sqrt(var), 1.0)
        correction = cls(mean, std, np.zeros((b.shape[1] + 1, z_train.shape[1])),
                         np.zeros((b.shape[1], z_train.shape[1])))
        phi = correction.features(b)
        z = np.asarray(z_train, dtype=np.float64)
        offset = _ridge(phi, z)
        residual = z - phi @ offset
        log_var = _ridge(phi, np.log(residual ** 2 + _EPS))
        return cls(mean, std, offset, 0.5 * log_var[:-1])

    def features(self, behavior: np.ndarray) -> np.ndarray:
        """(T, k) raw columns -> (T, k + 1) standardised columns and a 1; missing values at the train mean."""
        b = (np.asarray(behavior, dtype=np.float64) - self.mean) / self.std
        b = np.where(np.isfinite(b), b, 0.0)
        return np.column_stack([b, np.ones(len(b))])

    def gain(self, behavior: np.ndarray) -> np.ndarray:
        """(T, k) raw behaviour -> (T, n_neurons) predicted multiplicative gain (1 at the train mean state)."""
        return np.clip(np.exp(self.features(behavior)[:, :-1] @ self.log_gain), *GAIN_RANGE)

    def transform(self, z: np.ndarray, behavior: np.ndarray) -> np.ndarray:
        """(T, n) z-scored responses and (T, k) raw behaviour -> (T, n) float32 corrected responses."""
        if behavior.shape != (len(z), self.mean.size):
            raise ValueError(f"behaviour must be (T={len(z)}, {self.mean.size}) to match the correction fit on "
                             f"train, got {behavior.shape}")
        centred = z - self.features(behavior) @ self.offset
        return (centred / self.gain(behavior)).astype(np.float32)

    def to_dict(self) -> dict[str, list]:
        return {k: getattr(self, k).tolist() for k in ("mean", "std", "offset", "log_gain")}

    @classmethod
    def from_dict(cls, state: dict) -> "BehaviorCorrection":
        return cls(*(np.asarray(state[k], dtype=np.float64) for k in ("mean", "std", "offset", "log_gain")))
