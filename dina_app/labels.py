"""Human labels of the keys of ``dina_core.interpret.analyses``, applied only when drawing.

The analyses (and ``dina analyze``'s JSON) name every ranking, curve and matrix by one key;
pages and the report look the words up here instead of renaming the results.
"""

# neuron rankings as a choice ("Keep ...") and pruning curves as a legend
RANKING_CHOICES = {"importance": "Most important first (integrated gradients)",
                   "importance_bottom": "Least important first",
                   "response_strength": "Strongest mean response first", "reliability": "Most reliable first",
                   "random": "Random neurons"}
PRUNING_CURVES = {"importance": "importance", "importance_bottom": "least important first",
                  "response_strength": "mean response", "reliability": "reliability", "random": "random (mean of 20)"}
# matrices of analyses.neuron_interactions
INTERACTIONS = {"synergy": "pair ablation", "signal_correlation": "signal correlation",
                "noise_correlation": "noise correlation"}
# structure probes (keys of dina_core.interpret.probes.MANIPULATIONS)
MANIPULATIONS = {"low_pass": "Blur (low-pass)", "high_pass": "Fine detail only (high-pass)",
                 "phase_scramble": "Phase scrambling", "patch_shuffle": "Patch shuffling",
                 "shape_only": "Texture removed (shape only)", "contrast": "Contrast reduction"}
