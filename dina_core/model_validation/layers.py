"""A network's layers as it names them, their output shapes, and the maps of the chosen ones.

An ``nn.Module``'s layers are its named submodules whose output is a 4-D map (B, C, h, w), caught with forward
hooks (the forward stops once the last chosen layer has run). A TorchScript module cannot be hooked: its layers are
its outputs (a dict of name -> map, a tuple or list: ``output0``, ``output1``, ..., or one map: ``output``), or,
for a scripted ``nn.Sequential``, its children, run one after another (``0``, ``1``, ...).

A layer that gives tokens, (B, T, C) (a vision transformer's blocks), is read as a map (B, C, h, w) when T, or
T - 1 (a class token, dropped), is h * w for a grid whose aspect ratio is the input's within 15% (14 x 14 for a
ViT-B/16 at 224 x 224); any other output (vectors, tokens of no such grid) is not a layer.

Stage-level layers (``--layers all``): in the order the layers run, among layers at most two levels deep, the last
of every run of layers with the same spatial size (for a ResNet: ``relu``, ``layer1`` ... ``layer4``), leaving out
maps of a single location (global pooling).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import DinaError


@dataclass(frozen=True)
class LayerInfo:
    """One candidate layer: its name, its map's (C, h, w) for this recording's input, and whether it is a stage."""

    name: str
    shape: tuple[int, int, int]
    stage: bool = False


class _Enough(Exception):
    """Raised by a hook once every chosen layer has its map: the rest of the forward is not needed."""


def feature_map(output: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor | None:
    """``output`` as a map (B, C, h, w): itself when 4-D, tokens (B, T, C) on their grid (module docstring), else None."""
    if output.ndim == 4:
        return output
    if output.ndim != 3:
        return None
    aspect = input_hw[0] / input_hw[1]
    grids = [(abs(h / (tokens // h) / aspect - 1), h, tokens // h, skip)
             for tokens, skip in ((output.shape[1], 0), (output.shape[1] - 1, 1)) if tokens > 0
             for h in range(1, tokens + 1) if tokens % h == 0]
    error, h, w, skip = min(grids)
    if error > 0.15:
        return None
    return output[:, skip:].transpose(1, 2).reshape(output.shape[0], output.shape[2], h, w)


def _is_script(network: nn.Module) -> bool:
    return isinstance(network, torch.jit.ScriptModule)


def _script_outputs(network: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    if getattr(network, "original_name", "") == "Sequential":
        maps = {}
        for name, child in network.named_children():
            x = child(x)
            maps[name] = x
        return maps
    out = network(x)
    if isinstance(out, dict):
        return {str(k): v for k, v in out.items()}
    if isinstance(out, (tuple, list)):
        return {f"output{i}": v for i, v in enumerate(out)}
    return {"output": out}


def run_layers(network: nn.Module, x: torch.Tensor, names: list[str] | None = None) -> dict[str, torch.Tensor]:
    """{layer: output} of ``network`` on input ``x``, in the order the layers ran (every layer when ``names`` is None).

    Only tensor outputs are kept; with ``names``, the forward stops once all of them ran.
    """
    if _is_script(network):
        maps = _script_outputs(network, x)
        return {k: v for k, v in maps.items() if isinstance(v, torch.Tensor) and (names is None or k in names)}
    wanted = None if names is None else set(names)
    maps: dict[str, torch.Tensor] = {}

    def hook(name):
        def catch(_module, _inputs, output):
            if isinstance(output, torch.Tensor) and name not in maps and (wanted is None or name in wanted):
                maps[name] = output
                if wanted is not None and wanted <= maps.keys():
                    raise _Enough
        return catch

    handles = [m.register_forward_hook(hook(n)) for n, m in network.named_modules() if n]
    try:
        network(x)
    except _Enough:
        pass
    finally:
        for h in handles:
            h.remove()
    return maps


def probe(network: nn.Module, x: torch.Tensor, label: str) -> dict[str, torch.Tensor]:
    """:func:`run_layers` of every layer on a probe input; a network that fails on it gets a clear error."""
    try:
        with torch.no_grad():
            return run_layers(network, x)
    except Exception as exc:  # any failure of the user's network on our input
        text = str(exc).strip().splitlines()
        raise DinaError(f"{label}: failed on the stimuli as fed, {tuple(x.shape)} (batch, channels, height, width): "
                        f"{type(exc).__name__}: {text[-1][:200] if text else ''}. A network that needs another input "
                        "takes --input-channels 1|3 and --input-size N|HxW|native") from None


def list_layers(network: nn.Module, x: torch.Tensor, label: str, stages: list[str] | None = None) -> list[LayerInfo]:
    """Every map of ``network`` on ``x`` (1..2 prepared stimuli; see :func:`feature_map`), in running order, stages
    marked.

    Args:
        stages: the stage-level layers when the caller knows them (a DINA run's levels); else the module rule.
    """
    maps = {k: m for k, v in probe(network, x, label).items() if (m := feature_map(v, tuple(x.shape[2:]))) is not None}
    if not maps:
        raise DinaError(f"{label}: no layer gives a feature map (B, C, h, w) on the stimuli; "
                        + ("export the maps as the TorchScript model's outputs" if _is_script(network)
                           else "is it a vision network?"))
    if stages is None:
        stages = _stage_rule(maps)
    return [LayerInfo(k, tuple(int(s) for s in v.shape[1:]), k in stages) for k, v in maps.items()]


def _stage_rule(maps: dict[str, torch.Tensor]) -> list[str]:
    shallow = [(k, tuple(v.shape[2:])) for k, v in maps.items() if k.count(".") <= 1 and v.shape[2] * v.shape[3] > 1]
    return [k for i, (k, size) in enumerate(shallow) if i + 1 == len(shallow) or shallow[i + 1][1] != size]


def resolve_layers(requested: str | list[str], layers: list[LayerInfo], label: str) -> list[LayerInfo]:
    """``--layers`` ('all', or names) -> the LayerInfos, in the order given; unknown names list the valid ones."""
    by_name = {layer.name: layer for layer in layers}
    if requested == "all" or requested == ["all"]:
        chosen = [layer for layer in layers if layer.stage]
        if not chosen:
            raise DinaError(f"{label}: no stage-level layer; name the layers (--layers list shows them)")
        return chosen
    names = [n.strip() for n in (requested.split(",") if isinstance(requested, str) else requested) if n.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown or not names:
        raise DinaError(f"{label}: no layer {', '.join(map(repr, unknown)) or '(none given)'}; the layers that give "
                        f"a feature map are: {', '.join(by_name)[:1500]}")
    if len(set(names)) != len(names):
        raise DinaError(f"{label}: --layers names a layer twice ({', '.join(names)})")
    return [by_name[n] for n in names]


def layer_table(layers: list[LayerInfo]) -> str:
    """The listing ``--layers list`` prints: name, (C, h, w), stage mark."""
    width = max(len(layer.name) for layer in layers)
    return "\n".join(f"{layer.name:<{width}}  {layer.shape[0]:>5} x {layer.shape[1]:>3} x {layer.shape[2]:<3}"
                     f"{'  stage' if layer.stage else ''}" for layer in layers)
