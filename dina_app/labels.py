"""Human labels of the keys of ``dina_core`` results, applied only when drawing.

The analyses (and ``dina analyze``'s JSON), the benchmark and the model name every ranking,
curve, matrix, model and level by one key; pages and the report look the words up here
instead of renaming the results.
"""

import re

# neuron rankings as a choice ("Keep ...") and pruning curves as a legend
RANKING_CHOICES = {"importance": "Most important first", "importance_bottom": "Least important first",
                   "response_strength": "Strongest mean response first", "reliability": "Most reliable first",
                   "random": "Random neurons"}
RANKINGS = {"importance": "importance (integrated gradients)", "response_strength": "mean response strength",
            "reliability": "reliability (oracle correlation on train/validation repeats)"}
PRUNING_CURVES = {"importance": "importance", "importance_bottom": "least important first",
                  "response_strength": "mean response", "reliability": "reliability",
                  "random": "random subsets (mean ± sd)"}
# matrices of analyses.neuron_interactions, and what each one answers
INTERACTIONS = {"synergy": "pair ablation", "signal_correlation": "signal correlation",
                "noise_correlation": "noise correlation"}
INTERACTION_CAPTIONS = {
    "synergy": "Do the top neurons act together? Pair ablation: the retrieval loss when both are removed minus the "
               "two single losses (red: they back each other up; blue: they share one contribution).",
    "signal_correlation": "Do the top neurons prefer the same images? Correlation of their repeat-averaged responses "
                          "across the test images (the diagonal, 1 by definition, is left blank).",
    "noise_correlation": "Do the top neurons fluctuate together from trial to trial? Correlation of their "
                         "single-trial deviations from each image's mean response, on the test trials (the "
                         "diagonal, 1 by definition, is left blank).",
}
SYNERGY_METRICS = {"margin": "score margin", "top1": "top-1 accuracy"}
# structure probes (keys of dina_core.interpret.probes.MANIPULATIONS)
MANIPULATIONS = {"low_pass": "Blur (low-pass)", "high_pass": "Fine detail only (high-pass)",
                 "phase_scramble": "Phase scrambling", "patch_shuffle": "Patch shuffling",
                 "shape_only": "Texture removed (shape only)", "contrast": "Contrast reduction"}
# attribution choices (dina_core.interpret.attribution TARGETS and BASELINES)
ATTRIBUTION_TARGETS = {"similarity": "pair similarity", "margin": "margin over others"}
ATTRIBUTION_BASELINES = {"mean_grey": "mean grey image", "blurred": "blurred image"}
# models of dina_core.benchmark (the rows of metrics.json), and the kinds of run
MODELS = {"dina": "DINA", "linear": "linear two-tower", "global_only": "DINA, global embedding only",
          "shuffled_null": "shuffled-pairing null", "ridge": "ridge regression", "ceiling": "noise ceiling",
          "chance": "chance", "encoding": "encoding model (CNN core, Gaussian readout)"}
RUN_KINDS = {"dina": "DINA (feature-map alignment)", "linear": "linear two-tower (baseline)"}
# retrieval levels of a model (model.levels, and 'combined' for the retrieval score)
_STAGE_WORDS = {1: "early", 2: "mid-level", 3: "high-level"}
LEVELS = {"combined": "combined score", "global": "global embedding", "linear": "linear pixel read-out",
          "encoding": "encoding head (predicted responses)",
          "encoding_model": "encoding model (fitted baseline, frozen)"}


def level(key: str | None) -> str:
    """'stage2' -> 'mid-level maps (stage 2)'; 'combined' (or None) and 'global' in words; other keys as they are."""
    if key is None:
        return LEVELS["combined"]
    if key in LEVELS:
        return LEVELS[key]
    match = re.fullmatch(r"stage(\d+)", key)
    if match is None:
        return key
    n = int(match[1])
    return f"{_STAGE_WORDS[n]} maps (stage {n})" if n in _STAGE_WORDS else f"maps of stage {n}"


def model(key: str) -> str:
    """A benchmark model's plain name ('shuffled_null' -> 'shuffled-pairing null'); unknown keys as they are."""
    return MODELS.get(key, key.replace("_", " "))
