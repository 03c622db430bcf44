"""Which network to validate: the ``--model`` spec, and the frozen network it loads (never a download).

Specs:
    ``torchvision:NAME``        a torchvision architecture; with a weights file (a state dict loaded with
                                ``weights_only=True``), else random initialisation, said so in every output.
    ``torchscript:FILE``        a scripted or traced model (its layers are its outputs, see ``layers``).
    ``python:MODULE:FACTORY``   a function returning an ``nn.Module`` (command line only: it runs the user's code).
    ``dina:RUN``                a DINA run's own image tower, so a tower trained on one recording is tested on another.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import DinaError
from .weights import load_weights

KINDS = ("torchvision", "torchscript", "python", "dina")
NO_DOWNLOAD = ("DINA never downloads weights: download them once yourself, save the state dict "
               "(torch.save(model.state_dict(), FILE)) and pass it with --weights FILE")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed ``--model`` value. ``target``: NAME, FILE, MODULE:FACTORY or RUN; ``weights``: a state-dict file."""

    kind: str
    target: str
    weights: str | None = None

    @property
    def label(self) -> str:
        """How outputs name the network: the spec, and '(random weights)' where nothing trained it."""
        text = f"{self.kind}:{self.target}"
        if self.weights:
            return f"{text} ({Path(self.weights).name})"
        return text + (" (random weights)" if self.kind == "torchvision" else "")

    @property
    def random_weights(self) -> bool:
        return self.kind == "torchvision" and not self.weights


def parse_spec(text: str, weights: str | None = None) -> ModelSpec:
    """``--model`` text (and ``--weights``) -> ModelSpec; a spec that would fetch weights is refused.

    Raises:
        DinaError: an unknown kind, an empty target, ``--weights`` beside a kind that carries its own, or a
            torchvision spec naming pretrained weights (``torchvision:resnet18:IMAGENET1K_V1``).
    """
    kind, sep, target = str(text).partition(":")
    if not sep or kind not in KINDS or not target.strip():
        raise DinaError(f"--model {text!r}: expected one of torchvision:NAME, torchscript:FILE, "
                        "python:MODULE:FACTORY, dina:RUN")
    if kind == "torchvision" and (":" in target or "weights" in target.lower() or "pretrained" in target.lower()):
        raise DinaError(f"--model {text!r}: names pretrained weights, which would be downloaded; {NO_DOWNLOAD}")
    if weights and kind != "torchvision":
        raise DinaError(f"--weights {weights}: only for torchvision:NAME ({kind}:... carries its own weights)")
    if kind == "python" and target.count(":") != 1:
        raise DinaError(f"--model {text!r}: expected python:MODULE:FACTORY (e.g. python:mylab.nets:v1_model)")
    return ModelSpec(kind, target, weights)


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (16 hex digits): what the feature cache keys a weights or TorchScript file by."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _torchvision(name: str) -> nn.Module:
    """A torchvision classification architecture, randomly initialised. Only classification models: the detection
    and segmentation builders default to downloading an ImageNet backbone even with ``weights=None``."""
    import torchvision
    names = torchvision.models.list_models(module=torchvision.models)
    if name not in names:
        raise DinaError(f"--model torchvision:{name}: not a torchvision classification architecture; e.g. "
                        f"{', '.join(n for n in names if n.startswith(('resnet', 'vgg', 'alexnet')))[:200]} "
                        f"({len(names)} in all: torchvision.models.list_models(module=torchvision.models))")
    return torchvision.models.get_model(name, weights=None)


def _torchscript(path: str) -> nn.Module:
    if not Path(path).is_file():
        raise DinaError(f"--model torchscript:{path}: no such file")
    try:
        with warnings.catch_warnings():  # torch 2.14 deprecates TorchScript; the user's file is still one
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(path, map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError and ValueError variants for a file that is not an archive
        raise DinaError(f"--model torchscript:{path}: not a TorchScript file "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})") from None


def _python(target: str) -> nn.Module:
    module_name, factory_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DinaError(f"--model python:{target}: cannot import {module_name!r} ({exc})") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise DinaError(f"--model python:{target}: {module_name} has no function {factory_name!r}")
    network = factory()
    if not isinstance(network, nn.Module):
        raise DinaError(f"--model python:{target}: {factory_name}() returned {type(network).__name__}, "
                        "expected a torch.nn.Module")
    return network


def load_network(spec: ModelSpec, notes: list[str] | None = None) -> nn.Module:
    """The frozen network of a torchvision, TorchScript or python ``spec``, on the CPU, in eval mode, with no
    gradients. ``notes``, when given, receives what loading the weights left aside (``weights.load_weights``).
    A ``dina:RUN`` tower comes with its run's normaliser and levels: ``networks.open_network`` loads the run.
    """
    if spec.kind == "torchvision":
        network = _torchvision(spec.target)
        if spec.weights:
            found = load_weights(network, spec.weights, f"torchvision:{spec.target}")
            if notes is not None:
                notes.extend(found)
    elif spec.kind == "torchscript":
        network = _torchscript(spec.target)
    elif spec.kind == "python":
        network = _python(spec.target)
    else:
        raise ValueError(f"load_network: {spec.kind}:... specs are opened by networks.open_network")
    return freeze(network)


def freeze(network: nn.Module) -> nn.Module:
    """``network`` in eval mode (BatchNorm uses its running statistics) with every parameter frozen."""
    network.eval()
    for p in network.parameters():
        p.requires_grad_(False)
    return network


def random_twin(spec: ModelSpec, network: nn.Module, seed: int) -> nn.Module:
    """The control of ``network`` (loaded from ``spec``): the same architecture without its learned weights.

    torchvision: the architecture built afresh (its own initialisation) under ``seed``. Any other network (whose
    initialisation DINA cannot know): a copy with every parameter and buffer tensor's entries permuted at random, so
    each keeps its distribution of values while the learned structure is gone (BatchNorm statistics are permuted too).
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if spec.kind == "torchvision":
            return freeze(_torchvision(spec.target))
        twin = copy.deepcopy(network)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for tensor in [*twin.parameters(), *twin.buffers()]:
                if tensor.is_floating_point() and tensor.numel() > 1:
                    flat = tensor.reshape(-1)
                    flat.copy_(flat[torch.randperm(flat.numel(), generator=generator)])
        return twin
