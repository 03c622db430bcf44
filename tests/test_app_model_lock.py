"""The app's cached model is shared by every browser session: a hooked attribution and a plain
forward pass of two sessions at once must neither disturb each other nor leave a hook behind."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from dina_core.data.format import write_dataset

PAIRS = (0, 1)  # test pairs attributed: fewer than the N test images the other forward encodes


def _hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


@pytest.fixture()
def keys(tmp_path, small_run_dir, small_data):
    """(run_key, data_key) of the suite's small run and recording, as the app's caches key them."""
    from dina_app import cached, saved_runs, state

    run_key = state.file_key(small_run_dir[0] / "model.pt")
    data_key = state.file_key(write_dataset(tmp_path / "small.h5", small_data))
    yield run_key, data_key
    for fn in (cached.attributions, cached.embeddings, saved_runs.prepared, state.load_data):
        fn.clear()


def test_grad_cam_and_a_plain_forward_from_two_sessions(keys, monkeypatch):
    from dina_app import cached, saved_runs
    from dina_core.interpret import attribution

    run_key, data_key = keys
    model = saved_runs.load_run(run_key).model
    hooks_before = _hook_count(model)
    alone_maps = cached.attributions(run_key, data_key, "grad_cam", PAIRS, ())["maps"]
    alone_embeddings = cached.embeddings(run_key, data_key, None)
    cached.attributions.clear()
    cached.embeddings.clear()

    # Hold Grad-CAM right after its hooked forward, while its hook still sits on the shared model,
    # until the other session's forward has run (without the lock) or for 2 s (with it, that forward waits).
    hooked, other_done = threading.Event(), threading.Event()
    live_hooks = []
    similarity_forward = attribution.similarity_forward

    def held_forward(model_, level=None):
        forward = similarity_forward(model_, level)

        def run(images, response_embeddings):
            out = forward(images, response_embeddings)
            if not hooked.is_set():
                live_hooks.append(_hook_count(model) - hooks_before)
                hooked.set()
                other_done.wait(2.0)
            return out
        return run

    monkeypatch.setattr(attribution, "similarity_forward", held_forward)
    results, errors = {}, []

    def session(name, call):
        try:
            results[name] = call()
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)

    def plain():
        hooked.wait(60)
        try:
            return cached.embeddings(run_key, data_key, None)
        finally:
            other_done.set()

    threads = [threading.Thread(target=session, args=("maps", lambda: cached.attributions(
                   run_key, data_key, "grad_cam", PAIRS, ())["maps"])),
               threading.Thread(target=session, args=("embeddings", plain))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert live_hooks and live_hooks[0] > 0  # the overlap happened while Grad-CAM's hook was registered
    assert not errors, errors
    for name, value in alone_embeddings.items():
        np.testing.assert_array_equal(results["embeddings"][name], value, err_msg=name)
    np.testing.assert_array_equal(results["maps"], alone_maps)
    assert _hook_count(model) == hooks_before
