"""Data-parallel training over several processes (``torchrun``), exact for the contrastive loss.

Usage (one process per GPU; on CPU, gloo)::

    torchrun --standalone --nproc_per_node 4 -m dina_core.cli train rec.h5 --out runs/big

Every rank holds the whole prepared recording and an identical model. A step's global batch
(the same trial indices on every rank: the batch order is seeded) is cut into one contiguous
shard per rank. Each rank embeds its shard; the embeddings are all-gathered, the rank's own
shard kept with its autograd graph, so the InfoNCE loss on every rank sees the whole global
batch as negatives; the parameter gradients are then summed over ranks. That sum is exactly
the gradient of the global-batch loss (each rank contributes the terms that flow through its
own shard), so ``batch_size`` means the global batch whatever the number of processes, and
the learning rate needs no rescaling. The only differences from one process running the
same batch: BatchNorm normalises each shard by its own statistics (as in standard DDP; the
running statistics are averaged over ranks after every step), and a final batch that does
not divide by the number of ranks loses its last few trials.

Only rank 0 reports progress and writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

from ..model.device import resolve_device


@dataclass(frozen=True)
class Dist:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # the GPU index on this machine

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def usable(self, batch: torch.Tensor) -> torch.Tensor:
        """``batch`` cut to a multiple of the world size (shards must have equal sizes to be gathered)."""
        return batch[:len(batch) - len(batch) % self.world_size]

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a usable batch."""
        size = len(batch) // self.world_size
        return batch[self.rank * size:(self.rank + 1) * size]


SINGLE = Dist()


def current() -> Dist:
    """The running process group's view of this process, or SINGLE outside one."""
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return SINGLE
    return Dist(torch_dist.get_rank(), torch_dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def init_from_environment(device: str = "auto") -> Dist:
    """Join the process group ``torchrun`` describes (WORLD_SIZE > 1), else stay single.

    Args:
        device: the training's device setting ('auto', 'cpu', 'cuda', ...): NCCL when it resolves
            to CUDA (each rank then uses ``cuda:LOCAL_RANK``), gloo otherwise.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or current().enabled:
        return current()
    cuda = resolve_device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    torch_dist.init_process_group("nccl" if cuda else "gloo")
    return current()


def shutdown() -> None:
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def rank_device(device: torch.device, dist: Dist) -> torch.device:
    """One GPU per rank: ``cuda`` becomes ``cuda:LOCAL_RANK`` when several processes train."""
    if dist.enabled and device.type == "cuda" and device.index is None:
        return torch.device("cuda", dist.local_rank)
    return device


def gather_embeddings(outputs: dict[str, dict[str, torch.Tensor]], dist: Dist) -> dict[str, dict[str, torch.Tensor]]:
    """Every rank's (b, D) image and neural embeddings per level, as (world_size * b, D) in rank order.

    The other ranks' rows are constants here; this rank's rows keep their graph, so a loss on
    the result back-propagates exactly this rank's share of the global gradient.
    """
    if not dist.enabled:
        return outputs
    gathered = {key: dict(value) for key, value in outputs.items()}
    for tower in ("image", "neural"):
        for level, local in outputs[tower].items():
            parts = [torch.empty_like(local) for _ in range(dist.world_size)]
            torch_dist.all_gather(parts, local.detach().contiguous())
            parts[dist.rank] = local
            gathered[tower][level] = torch.cat(parts)
    return gathered


def sum_gradients(model: torch.nn.Module, dist: Dist) -> None:
    """Sum every trained parameter's gradient over ranks, in one flat all-reduce (missing grads count as 0)."""
    if not dist.enabled:
        return
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    torch_dist.all_reduce(flat)
    offset = 0
    for p in params:
        p.grad.copy_(flat[offset:offset + p.numel()].view_as(p))
        offset += p.numel()


def average_buffers(model: torch.nn.Module, dist: Dist) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over ranks, of the modules in training mode
    (a frozen module, e.g. DINA's encoding-model level, keeps eval mode and its buffers: the same on every rank)."""
    if not dist.enabled:
        return
    for module in model.modules():
        if not module.training:
            continue
        for buffer in module.buffers(recurse=False):
            if buffer.is_floating_point():
                torch_dist.all_reduce(buffer)
                buffer.div_(dist.world_size)


def broadcast_parameters(model: torch.nn.Module, dist: Dist) -> None:
    """Start every rank from rank 0's weights and buffers."""
    if not dist.enabled:
        return
    for tensor in list(model.parameters()) + list(model.buffers()):
        torch_dist.broadcast(tensor.data, src=0)
