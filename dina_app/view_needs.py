"""What a view needs computed before it can draw: the ``cached`` calls a page makes for a view's URL parameters.

``steps(page, run_key, data_key, params)`` lists them as (what, call) pairs, with the pages' defaults where
``params`` (a view's ``links`` parameters, as in its URL or a pinned deck view) say nothing. Calling them from
a background thread fills the very caches the page then reads: ``warmup`` does so for the pages' default
views of the shipped run, ``prefetch`` for the views of a deck being presented. Pages draw only from cached
results and cheap arithmetic beyond these calls; a page whose calls change must change here too (the test
``tests/test_prefetch.py`` opens each view after its steps and finds nothing left to compute).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dina_core.errors import DinaError

from . import analysis, cached, saved_runs, state
from .state import FileKey

Step = tuple[str, Callable[[], object]]
# The Attributions page's defaults (its widgets start here; in presentation mode, the view's own values).
ATTR_METHODS = ["integrated_gradients", "occlusion"]
ATTR_TARGET, ATTR_BASELINE, ATTR_STEPS, ATTR_WINDOW = "similarity", "mean_grey", 32, 6  # IG steps; patch px
ATTR_STEP_CHOICES = list(range(8, 65, 8))  # the integration-steps slider: 8 to 64 by 8


def attribution_key(target: str = ATTR_TARGET, baseline: str = ATTR_BASELINE, n_steps: int = ATTR_STEPS,
                    window: int = ATTR_WINDOW, stage: str | None = None) -> tuple:
    """``cached.attributions``' parameter key: the occlusion stride is half its (square) patch."""
    params = {"target": target, "baseline": baseline, "n_steps": n_steps, "window": (window, window),
              "stride": (max(1, window // 2),) * 2, "stage": stage}
    return tuple(sorted(params.items()))


def _text(params: dict[str, str], name: str, default: str) -> str:
    return params.get(name) or default


def _int(params: dict[str, str], name: str, default: int) -> int:
    try:
        return int(params[name])
    except (KeyError, ValueError):
        return default


def _retrieval(run_key: FileKey, data_key: FileKey, p: dict[str, str]) -> list[Step]:
    level = _text(p, "retrieval.level", "combined")
    level = None if level == "combined" else level
    direction = _text(p, "retrieval.direction", "neural_to_image")
    bench = analysis.find_benchmark(state.runs_dir(), state.fingerprint(data_key)) or {}
    others = [state.file_key(Path(f) / "model.pt") for f in sorted(bench.get("runs", {}).values())
              if Path(f) != Path(run_key[0]).parent and (Path(f) / "model.pt").is_file()]
    return [("test-set embeddings", lambda: cached.embeddings(run_key, data_key, level)),
            *[("retrieval ranks", lambda mode=mode: cached.ranks(run_key, data_key, level, direction, mode))
              for mode in analysis.RESPONSES],
            ("noise ceiling", lambda: cached.ceiling_curves(run_key, data_key)),
            *[("baselines' ranks", lambda key=key, mode=mode: cached.ranks(key, data_key, None, direction, mode))
              for key in others for mode in analysis.RESPONSES]]


def _feature_maps(run_key: FileKey, data_key: FileKey, p: dict[str, str]) -> list[Step]:
    stage = _text(p, "maps.stage", "") or saved_runs.load_run(run_key).model.config.aligned_stages[0]
    return [("alignment maps", lambda: cached.stage_maps(run_key, data_key, stage))]


def _attributions(run_key: FileKey, data_key: FileKey, p: dict[str, str]) -> list[Step]:
    chosen = p.get("attr.methods")  # "" is a choice: none
    methods = ATTR_METHODS if chosen is None else [m for m in chosen.split(",") if m]
    key = attribution_key(_text(p, "attr.target", ATTR_TARGET), _text(p, "attr.baseline", ATTR_BASELINE),
                          _int(p, "attr.steps", ATTR_STEPS), _int(p, "attr.window", ATTR_WINDOW),
                          p.get("attr.stage") or None)
    pos = _int(p, "attr.image", 0)
    return [("embeddings", lambda: cached.embeddings(run_key, data_key, None)),
            *[(f"attributions ({m})", lambda m=m: cached.attributions(run_key, data_key, m, (pos,), key))
              for m in methods]]


def _probes(run_key: FileKey, data_key: FileKey, p: dict[str, str]) -> list[Step]:
    from dina_core.interpret.probes import MANIPULATIONS

    name = _text(p, "probe.name", next(iter(MANIPULATIONS)))
    responses = _text(p, "probe.responses", "averaged")
    others = list(MANIPULATIONS) if p.get("probe.all") == "1" else []
    return [("embeddings", lambda: cached.embeddings(run_key, data_key, None)),
            ("retrieval ranks", lambda: cached.ranks(run_key, data_key, None, "neural_to_image", responses)),
            *[(f"probe ({m})", lambda m=m: cached.probe(run_key, data_key, m, responses))
              for m in dict.fromkeys([name, *others])]]


def _neurons(run_key: FileKey, data_key: FileKey, p: dict[str, str]) -> list[Step]:
    tier, responses = _text(p, "neurons.tier", "validation"), _text(p, "neurons.responses", "averaged")
    m, metric = _int(p, "neurons.m", 10), _text(p, "neurons.metric", "margin")
    return [("neuron rankings", lambda: cached.rankings(run_key, data_key, tier)),
            ("fast pruning", lambda: cached.evaluator(run_key, data_key, responses)),
            ("pruning curves", lambda: cached.pruning(run_key, data_key, tier, responses)),
            ("pair ablations", lambda: cached.synergy(run_key, data_key, tier, m, metric))]


NEEDS: dict[str, Callable[[FileKey, FileKey, dict[str, str]], list[Step]]] = {
    "retrieval": _retrieval, "feature_maps": _feature_maps, "attributions": _attributions, "probes": _probes,
    "neurons": _neurons}


def steps(page: str, run_key: FileKey, data_key: FileKey, params: dict[str, str]) -> list[Step]:
    """The calls view (``page``, ``params``) makes of ``cached``; [] for a page that computes nothing slow (or
    for a run that is not a DINA model, whose maps pages say so instead)."""
    needs = NEEDS.get(page)
    if needs is None:
        return []
    try:
        if page != "retrieval" and not cached.is_dina(run_key):
            return []
        return needs(run_key, data_key, params)
    except DinaError:  # a run that does not load: the page itself says why
        return []
