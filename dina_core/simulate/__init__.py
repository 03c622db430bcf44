"""Simulated mouse V1 recordings with ground truth: DINA's built-in demo and test fixture.

Usage::

    from dina_core.simulate import DEMO_CONFIG, SimConfig, simulate_recording
    data = simulate_recording(DEMO_CONFIG)        # DinaData; deterministic in config.seed
    tiny = simulate_recording(SimConfig.small())  # 200 neurons, fast: for tests

The session mirrors Sensorium 2022: 36x64 grey images; train and validation images are
shown once each, test images (never shown in train/validation) repeat
``n_test_repeats`` times; all trials are shuffled, so repeats are interleaved.

Stimuli
    Crops of the photographs bundled inside scikit-image (camera, astronaut, coffee,
    chelsea, rocket, coins, brick, grass, gravel; nothing is downloaded), at a random
    position and zoom, anti-aliased to the image size; grey levels 0..255 float32. Each
    image's photo and licence is in ``DinaData.image_source``.

Model (``Population.expected_responses``)
    For image ``x`` (grey / 255) and neuron ``i`` with Gaussian envelope ``env_i``:

    * local RMS contrast ``c_i`` = sd of ``x`` under the weights ``env_i / sum(env_i)``;
    * simple cells (LN): ``d_i = relu(f_i . x)``; complex cells (energy model):
      ``d_i = sqrt((f_i . x)^2 + (q_i . x)^2)`` with ``q_i`` the 90-degree partner of the
      Gabor ``f_i``. Filters are zero-mean and scaled so ``|f_i . x| <= c_i``;
    * divisive normalisation by local contrast: ``d_i / (norm_contrast + c_i)``, in [0, ~1];
    * rate ``gain_i * (normalised drive)^exponent + spontaneous_i``.

    A neuron therefore depends only on pixels where its envelope is non-zero.
    Interaction groups are co-localised, co-tuned cells whose filters mix in one common
    grating (``interaction_strength``) and whose trial gains share a group factor.

Trial noise
    rate x shared trial gain (log-normal, mean 1, correlated with running and pupil
    through a slow arousal state) x group gain, then gamma noise with variance
    ``fano_factor * mean``: non-negative, sparse and skewed like deconvolved activity.
    With the defaults, test-repeat oracle correlations are ~0.6-0.8 for strong
    responders and ~0.1-0.3 for the weak majority.

Ground truth (``DinaData.ground_truth``; n = n_neurons)
    rf_masks            (n, H, W) float32 Gaussian envelope, max 1, exactly 0 where it
                        would fall below 1e-3; take ``rf_masks > 0.5`` as a boolean RF
                        (the disc within ~1.18 sigma of the centre).
    rf_centers          (n, 2) float32 (row, col), pixels.
    rf_sigma            (n,) float32 envelope sd, pixels.
    orientation         (n,) float32 radians in [0, pi): direction of the carrier's wave
                        vector from the column axis towards increasing rows (0: vertical
                        stripes).
    spatial_frequency   (n,) float32 cycles per pixel.
    phase               (n,) float32 radians (carrier phase at the RF centre).
    cell_type           (n,) str 'simple' | 'complex'.
    strong_responder    (n,) bool.
    interaction_group   (n,) int64 group id, -1 for none.
    gain                (n,) float32.
    mean_response       (n_images, n) float32 noise-free expected response at trial gain 1.
    trial_gain          (n_trials,) float32 shared multiplicative gain of each trial.

Neurons carry ``positions_um`` (n, 3): cortical x, y follow the RF centre's column and
row (``um_per_pixel``, plus scatter), z is depth in layer 2/3; ``area`` is 'V1'.
"""

from dina_core.simulate.config import DEMO_CONFIG, SimConfig
from dina_core.simulate.population import Population
from dina_core.simulate.recording import simulate_population, simulate_recording

__all__ = ["DEMO_CONFIG", "Population", "SimConfig", "simulate_population", "simulate_recording"]
