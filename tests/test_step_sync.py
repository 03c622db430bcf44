"""The training loop lets the device run ahead: losses are read back to the host once every LOG_EVERY steps
(and on fit's first step and each epoch's last), never once per step, while each epoch's history stays the
exact mean of every step's loss.

A CPU run cannot see a GPU wait, so the test counts what would cause one: every read of a tensor's value
made from the loop's, the step's or the loss's code (``float``, ``int``, ``bool``, ``.item()``, ``.tolist()``).
"""

import math
import sys

import pytest
import torch

from dina_core.model import build_model
from dina_core.runs.config import TrainConfig
from dina_core.runs.prepare import Preprocessing, prepare
from dina_core.train import loop, loss, step

TINY_DINA = {"neuron_dropout": 0.0, "stage_channels": [4, 8, 8], "trunk_dim": 32}
HOST_READS = ("__float__", "__int__", "__bool__", "item", "tolist")


def count_host_reads(patch: pytest.MonkeyPatch) -> list[str]:
    """Record each tensor read made directly from loop.py, step.py or loss.py, as 'file:method'."""
    reads, watched = [], {loop.__file__, loss.__file__, step.__file__}
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if caller in watched:
                reads.append(f"{caller.rsplit('/', 1)[-1]}:{_name}")
            return _original(self, *args, **kwargs)
        patch.setattr(torch.Tensor, name, counted)
    return reads


@pytest.fixture(scope="module")
def tiny_fit(small_data):
    """A 2-epoch fit of a tiny DINA with LOG_EVERY = 4, and what it read back and reported."""
    prepared = prepare(small_data, Preprocessing.fit(small_data))
    torch.manual_seed(0)
    model = build_model("dina", TINY_DINA, prepared.n_neurons, prepared.image_shape)
    config = TrainConfig(epochs=2, batch_size=64, patience=100, shift_pixels=0)
    step_losses, infos = [], []  # what each train_step returned; each StepInfo
    train_step = loop.train_step

    def recorded_step(*args, **kwargs):
        step_losses.append(train_step(*args, **kwargs))
        return step_losses[-1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "LOG_EVERY", 4)
        patch.setattr(loop, "train_step", recorded_step)
        reads = count_host_reads(patch)
        result = loop.fit(model, prepared, config, on_step=infos.append)
    return {"result": result, "steps": step_losses, "infos": infos, "reads": reads, "epochs": config.epochs,
            "steps_per_epoch": math.ceil(len(prepared.tier_trials["train"]) / config.batch_size)}


def test_losses_are_read_back_every_log_every_steps_not_every_step(tiny_fit):
    per_epoch, total = tiny_fit["steps_per_epoch"], tiny_fit["steps_per_epoch"] * tiny_fit["epochs"]
    assert per_epoch > 4  # a read-back inside the epoch as well as at its end
    read_steps = sorted({1} | set(range(4, total + 1, 4)) | set(range(per_epoch, total + 1, per_epoch)))
    assert len(read_steps) < total
    assert tiny_fit["reads"] == ["step.py:tolist"] * len(read_steps)  # one transfer per read-back, nothing else
    for info in tiny_fit["infos"]:
        shown = max(s for s in read_steps if s <= info.step)
        assert info.loss_step == shown
        assert info.loss == float(tiny_fit["steps"][shown - 1][0])


def test_steps_leave_their_losses_on_the_device(tiny_fit):
    for loss_value, per_level in tiny_fit["steps"]:
        assert isinstance(loss_value, torch.Tensor) and loss_value.grad_fn is None
        assert per_level and all(isinstance(v, torch.Tensor) and v.grad_fn is None for v in per_level.values())


def test_history_is_the_exact_mean_of_every_steps_loss(tiny_fit):
    per_epoch = tiny_fit["steps_per_epoch"]
    for epoch, row in enumerate(tiny_fit["result"].history):
        steps = tiny_fit["steps"][epoch * per_epoch:(epoch + 1) * per_epoch]
        train_loss = 0.0
        for loss_value, _ in steps:  # the host float sum in step order, bit for bit
            train_loss += float(loss_value)
        assert row["train_loss"] == train_loss / per_epoch
        for level in steps[0][1]:
            level_sum = 0.0
            for _, per_level in steps:
                level_sum += float(per_level[level])
            assert row[f"loss_{level}"] == level_sum / per_epoch
