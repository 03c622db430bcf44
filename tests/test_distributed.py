"""Data-parallel training: two gloo processes taking one step on a global batch move the weights
exactly as one process computing that batch's loss (shard by shard for BatchNorm), and the CLI
trains under torchrun with rank 0 alone writing the run.

The ranks are spawned with a bare ``__main__`` (``spawn_ranks``). A spawned child first re-runs the
parent's ``__main__`` script (multiprocessing's spawn start method, as ``__mp_main__``), and
Streamlit's AppTest installs each page script it runs as ``sys.modules["__main__"]`` and never puts
pytest's back. So after any AppTest test in the same pytest process, every rank re-ran ``app.py``:
it drew the Studio headless and started the ``dina-warmup`` daemon thread, which was still in
torch's C++ code when the rank exited; Python 3.11 ends such a thread with ``pthread_exit``, whose
forced unwind through a ``noexcept`` frame calls ``std::terminate``: SIGABRT, "terminate called
without an active exception". Minimal reproduction, without DINA's code::

    def _child(rank):
        print(sys.modules["__main__"].__file__)  # the AppTest script, not pytest

    def test_spawn_after_apptest():
        AppTest.from_string("print('page ran as', __name__)").run()
        mp.spawn(_child, nprocs=2)  # prints 'page ran as __mp_main__' twice
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from dina_core.model import build_model
from dina_core.simulate import SimConfig, simulate_recording
from dina_core.train.distributed import SINGLE, Dist, current
from dina_core.train.step import train_step
from dina_core.train.loss import multilevel_info_nce
from dina_core.runs.prepare import Preprocessing, prepare

TINY = SimConfig.small(n_neurons=40, n_train_images=48, n_validation_images=6, n_test_images=6,
                       n_interaction_groups=2)
BATCH = 24  # global batch: 12 trials per rank
KINDS = {"dina": {"neuron_dropout": 0.0, "stage_channels": [4, 8, 8], "trunk_dim": 32, "encoding_level": True},
         "linear": {"neuron_dropout": 0.0, "embed_dim": 16}}


def setup(kind: str):
    """(model, prepared data, train trials, paired images) from a fixed seed, the same in every process."""
    data = simulate_recording(TINY)
    prepared = prepare(data, Preprocessing.fit(data))
    torch.manual_seed(0)
    model = build_model(kind, KINDS[kind], prepared.n_neurons, prepared.image_shape).train()
    trials = torch.as_tensor(prepared.tier_trials["train"])
    return model, prepared, trials, prepared.image_index[trials]


def setup_joint():
    """A joint model of two recordings (other neurons, one image side): (root, [(model, data, trials, paired)])."""
    from dina_core.model.image_side import share_image_side
    members = [setup("dina")]
    data = simulate_recording(SimConfig.small(**{**TINY.to_dict(), "seed": 1, "n_neurons": 30}))
    prepared = prepare(data, Preprocessing.fit(data))
    model = build_model("dina", KINDS["dina"], prepared.n_neurons, prepared.image_shape).train()
    trials = torch.as_tensor(prepared.tier_trials["train"])
    members.append((model, prepared, trials, prepared.image_index[trials]))
    share_image_side([m[0] for m in members])
    return torch.nn.ModuleDict({"r0": members[0][0], "r1": members[1][0]}), members


def flat_parameters(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def sharded_step(kind: str, dist: Dist) -> torch.Tensor:
    """One step of ``kind`` on the global batch; 'joint': a step on the second recording, then one on the first."""
    if kind == "joint":
        root, members = setup_joint()
        optimizer = torch.optim.AdamW(root.parameters(), lr=1e-2)
        for model, data, trials, paired in members[::-1]:
            train_step(model, data, trials, paired, torch.arange(BATCH), optimizer, dist=dist)
        return flat_parameters(root)
    model, data, trials, paired = setup(kind)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_step(model, data, trials, paired, torch.arange(BATCH), optimizer, dist=dist)
    return flat_parameters(model)


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        dist = current()
        assert dist == Dist(rank, world, 0)
        for kind in (*KINDS, "joint"):
            params = sharded_step(kind, dist)
            torch.save(params, Path(out_dir) / f"{kind}-rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def spawn_ranks(worker, args: tuple, nprocs: int) -> None:
    """``mp.spawn`` under a bare ``__main__``: the children re-run no script an AppTest left behind."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
        mp.spawn(worker, args=args, nprocs=nprocs, join=True)


@pytest.fixture(scope="module")
def two_rank_steps(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    # Spawn from the state an AppTest leaves (see the module docstring): a script that marks it ran as __main__.
    ran = out / "leftover-main-ran"
    script = out / "leftover_page.py"
    script.write_text(f"open({str(ran)!r}, 'w').close()\n")
    leftover = types.ModuleType("__main__")
    leftover.__file__ = str(script)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "__main__", leftover)
        spawn_ranks(_worker, (2, str(out / "rendezvous"), str(out)), nprocs=2)
    assert not ran.exists(), "the ranks re-ran the parent's __main__ script"
    return out


def reference_step(kind: str, shards: int) -> torch.Tensor:
    """One process: forward the global batch shard by shard, the loss on all of it, one step ('joint': one such
    step per recording, in ``sharded_step``'s order).

    Each shard is forwarded from the random state every rank starts its step with (the encoding head's
    readout jitter draws from it), and a model's own loss ('fit_loss', a mean over the shard) counts
    shard / batch of it, as the ranks' summed gradients do."""
    if kind == "joint":
        root, members = setup_joint()
        optimizer = torch.optim.AdamW(root.parameters(), lr=1e-2)
        for member in members[::-1]:
            _reference_update(*member, optimizer, shards)
        return flat_parameters(root)
    model, data, trials, paired = setup(kind)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    _reference_update(model, data, trials, paired, optimizer, shards)
    return flat_parameters(model)


def _reference_update(model, data, trials, paired, optimizer, shards: int) -> None:
    batch = torch.arange(BATCH)
    state, outs = torch.get_rng_state(), []
    for part in batch.chunk(shards):
        torch.set_rng_state(state)
        outs.append(model(data.images[paired[part]], data.responses[trials[part]]))
    merged = {tower: {level: torch.cat([o[tower][level] for o in outs]) for level in outs[0][tower]}
              for tower in ("image", "neural")}
    merged["logit_scale"] = outs[0]["logit_scale"]
    loss, _ = multilevel_info_nce(merged, model.loss_weights, paired[batch])
    loss = loss + sum(o["fit_loss"] / shards for o in outs if "fit_loss" in o)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@pytest.mark.parametrize("kind", [*KINDS, "joint"])
def test_two_ranks_step_like_one_process_on_the_global_batch(two_rank_steps, kind):
    rank0 = torch.load(two_rank_steps / f"{kind}-rank0.pt", weights_only=True)
    rank1 = torch.load(two_rank_steps / f"{kind}-rank1.pt", weights_only=True)
    assert torch.equal(rank0, rank1)  # the ranks stay identical
    model = setup_joint()[0] if kind == "joint" else setup(kind)[0]
    before = flat_parameters(model)
    assert not torch.allclose(rank0, before)  # the step moved the weights
    assert kind != "dina" or "encoding" in model.levels  # the encoding head's own loss is covered too
    if kind == "joint":  # both recordings' steps moved the one image tower
        assert model["r0"].image_tower is model["r1"].image_tower
    torch.testing.assert_close(rank0, reference_step(kind, shards=2), rtol=1e-5, atol=1e-6)
    if kind == "linear":  # no BatchNorm: identical to the plain single-process step on the whole batch
        torch.testing.assert_close(rank0, sharded_step(kind, SINGLE), rtol=1e-5, atol=1e-6)


def test_batches_cut_to_equal_shards():
    dist = Dist(rank=1, world_size=3)
    batch = torch.arange(10)
    usable = dist.usable(batch)
    assert len(usable) == 9 and torch.equal(dist.shard(usable), torch.arange(3, 6))
    assert torch.equal(SINGLE.shard(SINGLE.usable(batch)), batch)


def test_torchrun_trains_one_run_written_by_rank_zero(tmp_path):
    from dina_core.data.format import write_dataset
    from dina_core.runs.run import load_run

    write_dataset(tmp_path / "tiny.h5", simulate_recording(TINY))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "dina_core.cli", "train", str(tmp_path / "tiny.h5"), "--out", str(tmp_path / "run"),
         "--epochs", "2", "--batch-size", "16"],
        capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("validation top-1") == 1 and "(2 processes)" in proc.stdout
    summary = json.loads((tmp_path / "run" / "run.json").read_text())
    assert summary["metadata"]["processes"] == 2 and len(summary["history"]) == 2
    assert not (tmp_path / "run" / "state.pt").exists()
    load_run(tmp_path / "run")  # a normal run: loads and rebuilds


def test_torchrun_trains_a_joint_run_written_by_rank_zero(tmp_path):
    from dina_core.data.format import write_dataset
    from dina_core.runs.joint import load_joint_run

    write_dataset(tmp_path / "a.h5", simulate_recording(TINY))
    write_dataset(tmp_path / "b.h5", simulate_recording(SimConfig.small(**{**TINY.to_dict(), "seed": 1})))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "dina_core.cli", "train", str(tmp_path / "a.h5"), str(tmp_path / "b.h5"), "--out",
         str(tmp_path / "run"), "--epochs", "2", "--batch-size", "16"],
        capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("joint model of 2 recordings") == 1
    joint = load_joint_run(tmp_path / "run")
    assert set(joint.runs) == {"a", "b"} and joint.metadata["processes"] == 2 and len(joint.history) == 2
    assert not (tmp_path / "run" / "state.pt").exists()
