"""One network opened for one recording: its frozen module, its input, its layers, the grid and its pooled maps."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from torch import nn

from ..data.format import DinaData
from ..limits import check_memory
from .features import FeatureCache, cache_key, check_grid, extract, images_digest
from .inputs import InputSpec, default_input
from .layers import LayerInfo, list_layers
from .specs import ModelSpec, file_digest, freeze, load_network, random_twin

CONTROL_SEED = 1  # the random twin's seed (fixed, so a control is the same network in every run)
CONTROL_SUFFIX = " [random-weight control]"  # how outputs name a network's twin


@dataclass
class OpenNetwork:
    """A network ready to give maps of a recording.

    Attributes:
        spec: what was asked for; ``control`` True: this is its random-weight twin.
        module: the frozen network.
        input: how the recording's stimuli are fed (``grey_range`` set).
        layers: every layer with a 4-D map, in running order, stages marked.
        grid: (gh, gw) every chosen map is pooled to (set by the validation, once every network's layers are known).
        identity: what the feature cache keys this network by.
        cache_hits: layers read from the cache by the last :meth:`pooled` call.
        notes: what loading the weights left aside (a key prefix, the classifier head).
    """

    spec: ModelSpec
    module: nn.Module
    input: InputSpec
    layers: list[LayerInfo]
    identity: dict
    grid: tuple[int, int] = (1, 1)
    control: bool = False
    cache_hits: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.spec.label + (CONTROL_SUFFIX if self.control else "")

    def twin(self) -> "OpenNetwork | None":
        """The random-weight control (``specs.random_twin``), fed and pooled the same way; None for a network with
        no weights (nothing to randomise: its twin would be itself)."""
        weights = [t for t in (*self.module.parameters(), *self.module.buffers()) if t.is_floating_point() and t.numel() > 1]
        if not weights:
            return None
        return replace(self, module=random_twin(self.spec, self.module, CONTROL_SEED), control=True, cache_hits=[],
                       identity={**self.identity, "control_seed": CONTROL_SEED})

    def pooled(self, names: list[str], images: np.ndarray, cache: FeatureCache, device: str = "cpu",
               on_batch: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> dict[str, np.ndarray] | None:
        """{layer: (N, C, gh, gw)} pooled maps of ``names`` (read from ``cache`` where held, else computed on
        ``device``); None when stopped.

        Every stage-level layer is computed (and cached) beside the ones asked for: the forward runs anyway, so a
        later run on other stages of this network reads them from the cache.
        """
        key = cache_key(self.identity, self.input, self.grid, images_digest(images))
        shapes = {layer.name: layer.shape for layer in self.layers}
        out = {}
        for name in names:
            cached = cache.load(key, name, (len(images), shapes[name][0], *self.grid))
            if cached is not None:
                out[name] = cached
        self.cache_hits = list(out)
        missing = [n for n in names if n not in out]
        if missing:
            extra = [layer.name for layer in self.layers if layer.stage and layer.name not in names
                     and layer.shape[1] >= self.grid[0] and layer.shape[2] >= self.grid[1]]
            wanted = missing + [n for n in extra if not cache.holds(key, n)]  # a stage already cached is kept
            check_grid([layer for layer in self.layers if layer.name in missing], self.grid, self.label)
            channels = sum(shapes[n][0] for n in wanted)
            # the pooled maps, their cached copy and the reduction's float64 chunks: about three float32 copies
            check_memory(3 * 4 * len(images) * channels * self.grid[0] * self.grid[1],
                         f"{self.label}: maps of {len(wanted)} layers ({channels:,} channels) on a "
                         f"{self.grid[0]} x {self.grid[1]} grid over {len(images):,} stimuli",
                         "fewer layers, a coarser --grid or fewer stimuli")
            computed = extract(self.module, wanted, images, self.input, self.grid, device=device,
                               on_batch=on_batch, should_stop=should_stop)
            if computed is None:
                return None
            cache.save(key, computed, {"network": self.identity, "input": self.input.to_dict(),
                                       "grid": list(self.grid), "layers": wanted})
            out.update({n: computed[n] for n in missing})
        return {n: out[n] for n in names}


def _identity(spec: ModelSpec) -> dict:
    if spec.kind == "torchvision":
        return {"kind": spec.kind, "name": spec.target, "weights": file_digest(spec.weights) if spec.weights else None}
    if spec.kind == "torchscript":
        return {"kind": spec.kind, "file": file_digest(spec.target)}
    if spec.kind == "dina":
        return {"kind": spec.kind, "model": file_digest(Path(spec.target) / "model.pt")}
    module = inspect.getmodule(inspect.unwrap(_factory(spec)))
    source = inspect.getsourcefile(module) if module is not None else None
    return {"kind": spec.kind, "target": spec.target, "source": file_digest(source) if source else None}


def _factory(spec: ModelSpec):
    import importlib
    module_name, name = spec.target.split(":")
    return getattr(importlib.import_module(module_name), name)


def _dina_tower(spec: ModelSpec, images: np.ndarray) -> tuple[nn.Module, InputSpec, list[str]]:
    """A DINA run's frozen tower, fed as it was trained (one channel at the run's image size, its own normaliser
    restated on the recording's [0, 1] grey levels), and its levels as the stage-level layers."""
    from ..runs.run import load_run
    run = load_run(spec.target)
    fed = InputSpec(channels=1, size=tuple(run.model.image_shape), short_side=None, mean=(0.0,), std=(1.0,))
    fed = fed.for_recording(images)
    lo, hi = fed.grey_range
    norm = run.preprocessing.image_normalizer
    fed = replace(fed, mean=((norm.mean - lo) / (hi - lo),), std=(norm.std / (hi - lo),))
    return freeze(run.model.image_tower), fed, list(run.model.config.aligned_stages)


def open_network(spec: ModelSpec, data: DinaData, *, input_channels: int | None = None,
                 input_size: str | None = None) -> OpenNetwork:
    """Load ``spec``, decide its input for ``data``'s stimuli and list its layers.

    Raises:
        DinaError: the spec cannot be loaded, or the network fails on the stimuli as fed.
    """
    notes: list[str] = []
    stages = None
    if spec.kind == "dina":
        module, fed, stages = _dina_tower(spec, data.images)
    else:
        module = load_network(spec, notes)
        fed = default_input(spec.kind, input_channels, input_size, getattr(module, "dina_input", None))
        fed = fed.for_recording(data.images)
    layers = list_layers(module, fed.batch(data.images[:2]), spec.label, stages)
    return OpenNetwork(spec, module, fed, layers, _identity(spec), notes=notes)
