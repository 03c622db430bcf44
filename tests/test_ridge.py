"""Ridge identification baseline: exact ridge solution, alpha choice, identification."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dina_core.evaluate.retrieval import chance_scores, target_ranks, topk_accuracy
from dina_core.evaluate.ridge import RidgeIdentifier, ridge_factors


def linear_data(n: int, noise: float, seed: int, side: int = 12, n_neurons: int = 60):
    """Images (n, side, side) and responses = pixels @ W + offset + noise."""
    rng = np.random.default_rng(seed)
    weights = np.random.default_rng(0).standard_normal((side * side, n_neurons)) / side
    images = rng.standard_normal((n, side, side)).astype(np.float32)
    responses = images.reshape(n, -1) @ weights + 2.0 + noise * rng.standard_normal((n, n_neurons))
    return images, responses.astype(np.float32)


@pytest.mark.parametrize("n", [300, 40])  # primal (n > p) and dual (n < p) Gram matrices
def test_ridge_factors_equal_sklearn(n):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((n, 80)), rng.standard_normal((n, 5))
    x, y = x - x.mean(0), y - y.mean(0)
    c, lam, b = ridge_factors(x, y)
    for alpha in (0.1, 10.0, 1e4):
        expected = Ridge(alpha=alpha, fit_intercept=False).fit(x, y).coef_.T
        np.testing.assert_allclose((c / (lam + alpha)) @ b, expected, atol=1e-8)


def test_predictions_equal_sklearn_pipeline():
    images, responses = linear_data(300, noise=1.0, seed=2)
    model = RidgeIdentifier(alphas=(1.0, 100.0)).fit(images[:250], responses[:250], images[250:], responses[250:])
    sk = make_pipeline(StandardScaler(), Ridge(alpha=model.alpha_))
    sk.fit(images[:250].reshape(250, -1), responses[:250])
    np.testing.assert_allclose(model.predict(images[250:]), sk.predict(images[250:].reshape(50, -1)), atol=1e-4)


def test_embeddings_dot_product_is_pearson_correlation():
    images, responses = linear_data(200, noise=1.0, seed=3)
    responses = responses.astype(np.float64)  # so the train mean below is bit-identical to the model's
    model = RidgeIdentifier(alphas=(10.0,), standardize_responses=False)
    model.fit(images[:150], responses[:150], images[150:], responses[150:])
    img_emb, resp_emb = model.encode_images(images[150:]), model.encode_responses(responses[150:])
    pred = model.predict(images[150:])
    train_mean = responses[:150].mean(axis=0)  # shared by every candidate, so left out
    expected = np.corrcoef(responses[150:] - train_mean, pred - train_mean)[:50, 50:]
    np.testing.assert_allclose(resp_emb @ img_emb.T, expected, atol=1e-5)
    assert np.all(model.encode_responses(np.tile(train_mean, (2, 1))) == 0)  # no deviation: no information


def test_identification_far_above_chance_and_sensible_alpha():
    images, responses = linear_data(700, noise=1.5, seed=4)
    model = RidgeIdentifier().fit(images[:500], responses[:500], images[500:600], responses[500:600])
    ranks = target_ranks(model.encode_responses(responses[600:]), model.encode_images(images[600:]), np.arange(100))
    assert topk_accuracy(ranks, 1) > 20 * chance_scores(100)["top1"]
    assert [row["alpha"] for row in model.val_scores_] == list(model.alphas)
    assert model.alpha_ < max(model.alphas)  # the largest penalty shrinks the signal away

    # Fewer, noisier trials need a stronger penalty than plentiful clean ones.
    clean = RidgeIdentifier().fit(*linear_data(2000, 0.5, 5), *linear_data(200, 0.5, 6))
    noisy = RidgeIdentifier().fit(*linear_data(150, 10.0, 7), *linear_data(200, 10.0, 8))
    assert noisy.alpha_ > clean.alpha_


def test_downsample_and_tiny_validation_fall_back_to_r2():
    images, responses = linear_data(220, noise=1.0, seed=9)
    model = RidgeIdentifier(downsample=5).fit(images[:200], responses[:200], images[200:210], responses[200:210])
    assert model.coef_.shape == (4, 60)  # 12x12 cropped to 10x10, 2x2 blocks
    best_r2 = max(model.val_scores_, key=lambda row: row["r2"])
    assert model.alpha_ == best_r2["alpha"]
    with pytest.raises(RuntimeError):
        RidgeIdentifier().encode_images(images)
