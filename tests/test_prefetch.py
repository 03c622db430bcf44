"""What a view needs (dina_app/view_needs.py), computed ahead of its slide (dina_app/prefetch.py).

The steps listed for a view must cover every slow ``cached`` call its page then makes, in normal and in
presentation mode (where hidden controls keep the view's own values): the page's calls are recorded
through AppTest and compared with the steps' calls for the same view. A deck's prefetch computes its views
in order and reports its progress.
"""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from dina_app import cached, keys, links, view_needs
from studio_pages import APP, TIMEOUT

SLOW = ["embeddings", "ranks", "ceiling_curves", "stage_maps", "attributions", "probe", "evaluator", "rankings",
        "pruning", "synergy"]
VIEWS = [
    ("retrieval", {}),
    ("retrieval", {"retrieval.level": "stage2", "retrieval.responses": "single_trial",
                   "retrieval.direction": "image_to_neural"}),
    ("feature_maps", {"maps.stage": "stage3"}),
    ("attributions", {"attr.methods": "saliency,occlusion", "attr.image": "2", "attr.steps": "16",
                      "attr.window": "4", "attr.target": "margin"}),
    ("probes", {"probe.name": "high_pass", "probe.responses": "single_trial", "probe.all": "1"}),
    ("neurons", {"neurons.tier": "test", "neurons.m": "5", "neurons.metric": "top1"}),
]


@pytest.fixture()
def recorded(monkeypatch):
    """Every call of a slow ``cached`` function, as (name, arguments), while the fixture lives: the outermost
    ones (one cached call may make others). The app's warm-up of the shipped run is off: its calls are not
    the page's."""
    from dina_app import warmup
    monkeypatch.setattr(warmup, "warm_shipped_run", lambda *args: None)
    calls: list[tuple] = []
    inside = threading.local()
    for name in SLOW:
        original = getattr(cached, name)

        def record(*args, _name=name, _original=original):
            if getattr(inside, "depth", 0) == 0:
                calls.append((_name, args))
            inside.depth = getattr(inside, "depth", 0) + 1
            try:
                return _original(*args)
            finally:
                inside.depth -= 1
        monkeypatch.setattr(cached, name, record)
    return calls


def keys_of(studio):
    """(run key, recording key) of the studio's active model (the suite's small run) on its demo recording."""
    from dina_app import state
    return state.file_key(state.demo_run_dir() / "model.pt"), state.file_key(studio / "demo" / "demo_small.h5")


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presentation"])
@pytest.mark.parametrize("page, params", VIEWS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(VIEWS)])
def test_a_views_steps_cover_what_its_page_computes(studio, recorded, page, params, present):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for name, value in {**params, keys.PRESENT: "1" if present else "0"}.items():
        at.query_params[name] = value
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [w.value for w in at.warning if "restored" in w.value]  # every value of the view applied
    run_key, data_key = keys_of(studio)
    by_page = {c for c in recorded if c[1][:1] == (run_key,) or c[1][:2] == (data_key, run_key)}
    assert by_page, "the page computed nothing: the recorder is not in its path"
    recorded.clear()
    for _, call in view_needs.steps(page, run_key, data_key, dict(at.query_params)):
        call()
    missing = sorted((name, args[2:]) for name, args in by_page - set(recorded))  # without the two file keys
    assert not missing, f"{page} computes what its steps do not: {missing}; the steps: {sorted(set(recorded))}"


def test_a_page_without_slow_work_needs_nothing(studio):
    run_key, data_key = keys_of(studio)
    for page in ("data", "train", "report", "deck", "model_validation", "across_animals"):
        assert view_needs.steps(page, run_key, data_key, {}) == []


def test_a_decks_views_are_prepared_in_order_with_progress(studio, tmp_path):
    from dina_app import decks, prefetch

    run_key, data_key = keys_of(studio)
    views = [decks.new_view(page, {links.RECORDING: "demo", **params}, "", {}, []) for page, params in VIEWS[:3]]
    deck_path = tmp_path / "talk.json"
    decks.save(deck_path, {**decks.empty("talk"), "views": views})
    seen: list[int] = []
    progress = prefetch.start(deck_path, views, data_key)
    assert prefetch.start(deck_path, views, data_key) is progress  # one job per deck version: shared
    for thread in [t for t in threading.enumerate() if t.name == "dina-prefetch"]:
        seen.append(progress.ready)
        thread.join(timeout=600)
    assert progress.ended and progress.ready == 3 and progress.describe() == "All 3 views are ready."
    assert seen and all(0 <= r <= 3 for r in seen)
