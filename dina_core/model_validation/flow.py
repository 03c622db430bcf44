"""``dina validate-model``: each chosen layer of each network aligned with V1, beside the references.

For every network and layer: the layer's maps (pooled, reduced on train images) become the fixed image side of a
DINA level, a neural tower is trained to align with them (``alignment.fit_alignment``), and the test tier scores
it. The same for the network's random-weight twin (the control), for all chosen layers at once (``joint``), for the
pixel level and for DINA's own trained model, all on one split, beside the noise ceiling.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch.nn.functional as F
import torch

from ..data.checked import check_recording
from ..data.fingerprint import data_fingerprint
from ..data.format import DinaData
from ..errors import DinaError
from ..evaluate.ceiling import tier_ceiling
from ..evaluate.model_eval import COMBINED, evaluate_run
from ..model.device import resolve_device
from ..progress import Progress as ProgressCallback
from ..runs.config import TrainConfig
from ..runs.prepare import Preprocessing, prepare
from ..runs.run import Run, check_compatible
from .alignment import fit_alignment, neural_to_image, paired_difference, row_slug, save_level, with_fraction
from .features import CHANNELS, FeatureCache, check_grid, default_grid, reduce_channels
from .layers import resolve_layers
from .networks import CONTROL_SUFFIX, open_network
from .outputs import write_outputs
from .specs import ModelSpec

JOINT = "joint"  # the row of all chosen layers of a network aligned together, as DINA's levels are
PIXEL_POOL = 2  # the pixel level: the stimulus average-pooled 2 x 2, as DINA's stage0


class Progress:
    """Where the validation is: ``on_stage(text)`` as each stage begins, ``on_count(done, total, stage)`` while a
    network's maps are computed (stimuli done), ``on_step(StepInfo)`` per training step (``info.stage`` names the fit)."""

    def __init__(self, on_stage: Callable[[str], None] | None = None,
                 on_count: ProgressCallback | None = None, on_step: Callable | None = None):
        self.on_stage, self.on_count, self.on_step = on_stage, on_count, on_step

    def stage(self, text: str) -> None:
        if self.on_stage is not None:
            self.on_stage(text)

    def count(self, done: int, total: int, stage: str) -> None:
        if self.on_count is not None:
            self.on_count(done, total, stage)


def _pixel_maps(base) -> dict[str, np.ndarray]:
    pooled = F.avg_pool2d(base.images.cpu(), PIXEL_POOL, ceil_mode=True)
    return {"pixels": pooled.numpy()}


def _ceiling(base, seed: int) -> dict | None:
    try:
        rows = tier_ceiling(base, "test", seed=seed)
    except ValueError:  # no test image repeated: no ceiling exists
        return None
    n2i = {r["responses"]: r["top1"] for r in rows if r["direction"] == "neural_to_image"}
    return {"single_trial": n2i.get("single_trial"), "averaged": n2i.get("averaged")}


def _dina_row(run: Run, data: DinaData, seed: int) -> dict:
    check_compatible(run, data, "the --dina run")
    rows = [r for r in evaluate_run(run, data, per_level=False, seed=seed) if r["level"] == COMBINED]
    return {"model": "dina", "layer": COMBINED, **neural_to_image(rows)}


def validate_models(data: DinaData, specs: list[ModelSpec], out_dir: str | os.PathLike, *,
                    layers: str | list[str] | dict = "all", grid: tuple[int, int] | None = None, channels: int = CHANNELS,
                    input_channels: int | None = None, input_size: str | None = None,
                    train_config: TrainConfig | None = None, dina_run: Run | Callable[[], Run] | None = None,
                    joint: bool = True,
                    cache_dir: str | os.PathLike | None = None, progress: Progress | None = None,
                    should_stop: Callable[[], bool] | None = None) -> dict | None:
    """Validate every network of ``specs`` on ``data``; write ``validation.json``, ``validation.md`` and the layer
    profile in ``out_dir``. Returns the JSON's dict, or None when ``should_stop`` ended it (nothing written).

    Args:
        layers: 'all' (each network's stage-level layers) or names, the same for every network; or a dict
            {spec: 'all' or names} per network ('all' for one not in it).
        grid: (gh, gw) every map is pooled to (None: ``features.default_grid``, no finer than the coarsest
            stage-level map of any of the networks).
        channels: channels kept per layer (principal components fitted on train images).
        train_config: the neural towers' training (DINA's defaults when None; the split's seed and validation
            fraction too; its ``device`` runs the networks and the towers).
        dina_run: DINA's trained run on this recording, the ``dina`` reference, or a function making one (called
            once every network's layers are checked); None: no such row.
        cache_dir: where pooled maps are cached (None: not cached).
    """
    check_recording(data)
    started, progress = time.perf_counter(), progress or Progress()
    train_config = train_config or TrainConfig()
    pre = Preprocessing.fit(data, behavior=train_config.behavior == "on")
    device = resolve_device(train_config.device)  # the networks' maps and the neural towers, on one device
    base = prepare(data, pre, device, train_config.validation_fraction, train_config.seed)
    train_images = np.unique(base.image_index.cpu()[torch.as_tensor(base.tier_trials["train"])].numpy())
    opened, grid = _open_all(specs, data, layers, grid, input_channels, input_size, progress)
    if callable(dina_run):
        dina_run = dina_run()
    ceiling, cache, fitted = _ceiling(base, train_config.seed), FeatureCache(cache_dir), {}
    result = {"recording": {"name": str(data.attrs.get("name", "recording")), "fingerprint": data_fingerprint(data),
                            "neurons": data.n_neurons, "images": data.n_images},
              "networks": [], "rows": [], "control": [], "dina": None, "pixel": None, "ceiling": ceiling,
              "grid": list(grid), "channels": channels, "train": train_config.to_dict(), "preprocessing": pre.to_dict()}

    def aligned(maps, label, layer, stage_text):
        progress.stage(stage_text)
        level = fit_alignment(base, maps, train_config, stage=stage_text, on_step=progress.on_step,
                              should_stop=should_stop)
        if level.interrupted:
            return None
        row = with_fraction({"model": label, "layer": layer, **neural_to_image(level.tasks),
                             "validation_top1": level.validation_top1, "best_epoch": level.best_epoch}, ceiling)
        row["file"] = f"levels/{row_slug(len(fitted), label, layer)}"
        fitted[row["file"]] = level
        return row

    result["pixel"] = aligned(_pixel_maps(base), "pixels", "pixels", "pixel level")
    if result["pixel"] is None:
        return None
    for network, chosen in opened:
        control = network.twin()
        for net, target in ((network, result["rows"]), (control, result["control"])):
            if net is None:
                continue
            progress.stage(f"{net.label}: maps of {len(chosen)} layers")
            pooled = net.pooled(chosen, data.images, cache, device,
                                on_batch=lambda i, n, net=net: progress.count(i, n, f"{net.label}: maps"),
                                should_stop=should_stop)
            if pooled is None:
                return None
            reduced = {name: reduce_channels(pooled[name], train_images, channels) for name in chosen}
            result["networks"].append(_network_entry(net, chosen, control is None))
            for name, maps in [(n, {n: reduced[n]}) for n in chosen] + ([(JOINT, reduced)] if joint and len(chosen) > 1
                                                                       else []):
                row = aligned(maps, net.label, name, f"{net.label}: {name if name != JOINT else 'all layers'}")
                if row is None:
                    return None
                target.append(row)
    _add_differences(result, fitted, train_config.seed)
    if dina_run is not None:
        progress.stage("DINA's own model")
        result["dina"] = with_fraction(_dina_row(dina_run, data, train_config.seed), ceiling)
    result["best"] = _best_layers(result["rows"])
    result["seconds"] = time.perf_counter() - started
    for file, level in fitted.items():
        save_level(Path(out_dir) / file, level, base)
    for stale in (Path(out_dir) / "levels").glob("*.pt"):  # an earlier validation's levels in this folder
        if f"levels/{stale.name}" not in fitted:
            stale.unlink()
    write_outputs(result, Path(out_dir))
    return result


def _open_all(specs, data, layers, grid, input_channels, input_size, progress) -> tuple[list, tuple[int, int]]:
    """Every network opened and its layers resolved before any work, and the one grid they are all pooled to:
    ``grid``, else ``features.default_grid`` no finer than the coarsest stage-level map of any network."""
    opened = []
    for spec in specs:
        progress.stage(f"{spec.label}: listing layers")
        network = open_network(spec, data, input_channels=input_channels, input_size=input_size)
        wanted = layers.get(spec, "all") if isinstance(layers, dict) else layers
        opened.append((network, resolve_layers(wanted, network.layers, spec.label)))
    if grid is None:  # set by the networks' stages, not by the layers chosen: a later run on others reads the cache
        maps = [layer.shape[1:] for network, chosen in opened
                for layer in ([x for x in network.layers if x.stage] or chosen)]
        grid = default_grid(data.image_shape, (min(m[0] for m in maps), min(m[1] for m in maps)))
    for network, chosen in opened:
        check_grid(chosen, grid, network.label)
        network.grid = tuple(grid)
    return [(network, [layer.name for layer in chosen]) for network, chosen in opened], tuple(grid)


def _network_entry(net, chosen: list[str], no_control: bool) -> dict:
    entry = {"model": net.label, "control": net.control, "input": net.input.to_dict(), "grid": list(net.grid),
             "layers": [vars(x) for x in net.layers], "chosen": chosen, "cache_hits": net.cache_hits,
             "random_weights": net.spec.random_weights or net.control, "notes": net.notes}
    if no_control:
        entry["no_control"] = "the network has no weights to randomise: its control would be itself"
    return entry


def _add_differences(result: dict, fitted: dict, seed: int) -> None:
    """Each network row gets ``minus_control`` (its single-trial top-1 minus its random twin's at the same layer)
    and every row ``minus_pixel``, paired over the same test trials with a 95% CI over images."""
    pixel = fitted[result["pixel"]["file"]]
    controls = {(r["model"].removesuffix(CONTROL_SUFFIX), r["layer"]): r for r in result["control"]}
    for row in result["rows"] + result["control"]:
        row["minus_pixel"] = paired_difference(fitted[row["file"]], pixel, seed)
        twin = controls.get((row["model"], row["layer"]))
        if twin is not None and twin is not row:
            row["minus_control"] = paired_difference(fitted[row["file"]], fitted[twin["file"]], seed)


def _best_layers(rows: list[dict]) -> dict[str, str]:
    """{network: its layer of highest single-trial neural->image top-1} (the joint row left out)."""
    best: dict[str, dict] = {}
    for row in rows:
        if row["layer"] != JOINT and (row["model"] not in best or row["single_trial"] > best[row["model"]]["single_trial"]):
            best[row["model"]] = row
    return {model: row["layer"] for model, row in best.items()}


def refuse_duplicate_specs(specs: list[ModelSpec]) -> None:
    """Two --model values naming the same network would only repeat its rows."""
    seen = set()
    for spec in specs:
        if spec in seen:
            raise DinaError(f"--model {spec.label}: given twice")
        seen.add(spec)
