"""The Model validation page's builder: choose networks and layers, run ``validate_models`` in the background.

Networks come only from what the app already trusts: a torchvision architecture (random weights, or a state dict
among the ``.pt``/``.pth`` files of the data folder, loaded weights-only), a TorchScript file there, or a saved
DINA run; never a ``python:`` spec, which would run code. A validation writes
``<runs folder>/validation/<recording fingerprint>/mv-<timestamp>/`` (``model_validation_results``); every
validation shares one cache of pooled maps, ``<runs folder>/validation/features``, so a layer computed once is read
back the next time.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from dina_core.data.format import DinaData
from dina_core.model_validation import ModelSpec, parse_spec
from dina_core.model_validation.layers import LayerInfo
from dina_core.paths import inside, is_inside
from dina_core.runs.config import TrainConfig

from . import active_run, job_panel, jobs, saved_runs, state
from .chrome import guard
from .model_validation_results import VALIDATION_DIR, short

KINDS = {"torchvision": "torchvision architecture", "torchscript": "TorchScript file", "dina": "saved DINA run"}
INPUT_SIZES = {None: "shorter side 112 px (default)", "native": "the stimuli's own size (fast, coarse maps)"}
MODEL_FILES = (".pt", ".pth")
CACHE_DIR = "features"  # under VALIDATION_DIR
NETWORKS = "mv.networks"  # session key: [(kind, target, weights or None)] added for the next validation
Choice = tuple[str, str, str | None]  # (kind, target, weights): a ModelSpec's fields, as session state keeps them


def job_key() -> str:
    """The validation this browser session started (``jobs`` registry)."""
    return f"validate:{state.session_id()}"


def spec_of(choice: Choice) -> ModelSpec:
    """The core's spec of a choice (``parse_spec`` refuses what the command line refuses)."""
    kind, target, weights = choice
    return parse_spec(f"{kind}:{target}", weights)


def model_files() -> list[str]:
    """``.pt``/``.pth`` files under the data folder, relative to it, sorted; links that lead out are left out."""
    root = state.data_dir()
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.suffix.lower() in MODEL_FILES and p.is_file() and is_inside(root, p))


@st.cache_data(show_spinner=False)
def architectures() -> list[str]:
    """torchvision's classification architectures (its detection, segmentation and video models left out)."""
    import torchvision
    return torchvision.models.list_models(module=torchvision.models)


def _stamps(choice: Choice) -> tuple:
    """The ``state.file_key`` of every file a choice reads, so a file rewritten on disk is opened afresh."""
    kind, target, weights = choice
    files = ([weights] if weights else []) + ([target] if kind == "torchscript" else [])
    files += [Path(target) / "model.pt"] if kind == "dina" else []
    return tuple(state.file_key(f) for f in files)


@st.cache_data(max_entries=32, show_spinner="Opening the network and listing its layers…")
def _layers(choice: Choice, stamps: tuple, data_key: state.FileKey, input_size: str | None) -> list[LayerInfo]:
    from dina_core.model_validation.networks import open_network
    return open_network(spec_of(choice), state.load_data(data_key), input_size=input_size).layers


def network_layers(choice: Choice, data_key: state.FileKey, input_size: str | None) -> list[LayerInfo]:
    """Every layer of the network with a 4-D map on the recording's stimuli as fed: name, (C, h, w), stage.

    Raises:
        DinaError: the file is gone, the weights are another architecture's, the network fails on the stimuli.
    """
    return _layers(choice, _stamps(choice), data_key, input_size)


def _pick_network() -> Choice | None:
    """The network the controls describe, or None while a file or run is still to be chosen."""
    root, files = state.data_dir(), model_files()
    kind = st.segmented_control("Network", list(KINDS), format_func=KINDS.get, default="torchvision",
                                key="mv.kind") or "torchvision"
    if kind == "torchvision":
        left, right = st.columns(2)
        names = architectures()
        name = left.selectbox("Architecture", names, index=names.index("resnet18"), key="mv.arch")
        weights = right.selectbox("Weights", [None, *files], key="mv.weights",
                                  format_func=lambda f: "none: random initialisation" if f is None else f,
                                  help=f"A state dict (torch.save(model.state_dict(), FILE)) under {root}; DINA "
                                       "never downloads weights")
        return kind, name, None if weights is None else str(inside(root, weights))
    if kind == "torchscript":
        chosen = st.selectbox("TorchScript file", files, index=None, key="mv.script",
                              help=f".pt/.pth files under {root}: its layers are its outputs")
        return None if chosen is None else (kind, str(inside(root, chosen)), None)
    runs = [r for r in saved_runs.list_runs() if r["problem"] is None and r["kind"] == "dina"]
    chosen = st.selectbox("Run", runs, index=None, format_func=lambda r: r["name"], key="mv.run",
                          help="Its image tower, trained on its own recording, tested here")
    return None if chosen is None else (kind, chosen["path"], None)


def networks_panel(data_key: state.FileKey, input_size: str | None) -> list[Choice]:
    """Add networks (each opened at once, so a wrong file is said now) and list them; returns those added."""
    chosen = st.session_state.setdefault(NETWORKS, [])
    choice = _pick_network()
    if st.button("Add network", icon=":material/add:", key="mv.add", disabled=choice is None):
        if choice in chosen:
            st.info(f"{short(spec_of(choice).label)} is already in the list.", icon=":material/info:")
        else:
            with guard():
                spec_of(choice)
                network_layers(choice, data_key, input_size)
                chosen.append(choice)
    if not chosen:
        st.caption(f"Add one or more networks (their files go under the data folder {state.data_dir()}).")
    for i, item in enumerate(list(chosen)):
        left, right = st.columns([6, 1])
        left.markdown(f"{i + 1}. `{short(spec_of(item).label)}`")
        if right.button("Remove", key=f"mv.remove.{i}"):
            chosen.remove(item)
            st.rerun()
    return list(chosen)


def _shape(layer: LayerInfo) -> str:
    return f"{layer.name} · {' × '.join(map(str, layer.shape))}" + (" · stage" if layer.stage else "")


def layers_panel(chosen: list[Choice], data_key: state.FileKey, input_size: str | None) -> dict | None:
    """{spec: layer names} to validate, each network's stage-level layers by default; None while a network cannot
    be opened (its error is shown) or has no layer chosen."""
    picked = {}
    for choice in chosen:
        with guard():
            layers = network_layers(choice, data_key, input_size)
            label = short(spec_of(choice).label)
            digest = hashlib.sha256(repr(choice).encode()).hexdigest()[:10]  # the widget of this network
            picked[spec_of(choice)] = st.multiselect(
                f"Layers of {label}", [x.name for x in layers], default=[x.name for x in layers if x.stage],
                format_func={x.name: _shape(x) for x in layers}.get, key=f"mv.layers.{digest}",
                help="Each with its map's channels × height × width for these stimuli; stage: the last layer of "
                     "each spatial size (for a ResNet: relu, layer1 ... layer4)")
    if len(picked) < len(chosen) or not all(picked.values()):
        return None
    return picked


def dina_reference(data_key: state.FileKey) -> dict | None:
    """The run in use when it is a usable DINA run (its ``saved_runs.list_runs`` entry): the table's DINA row."""
    found = active_run.active(data_key)
    if found is None or found[0]["problem"] or found[0]["kind"] != "dina":
        return None
    return found[0]


def validation_work(data: DinaData, specs: list[ModelSpec], out_dir: Path, layers: dict,
                    train_config: TrainConfig, input_size: str | None, cache_dir: Path,
                    dina_folder: str | None) -> Callable[[jobs.Job], dict | None]:
    """Work that runs ``validate_models`` of ``specs`` (``layers``: {spec: layer names}) into ``out_dir``, reporting
    each stage, map count and training step to the job; the DINA run (when given) is loaded in the worker."""
    def work(job: jobs.Job) -> dict | None:
        from dina_core.model_validation import Progress, validate_models
        from dina_core.runs.run import load_run
        dina_run = None if dina_folder is None else functools.partial(load_run, dina_folder, device="cpu")
        result = validate_models(data, specs, out_dir, layers=layers, train_config=train_config,
                                 input_size=input_size, dina_run=dina_run, cache_dir=cache_dir,
                                 progress=Progress(job.set_stage, job.on_progress, job.on_step),
                                 should_stop=job.should_stop)
        return None if result is None else {"folder": str(out_dir), "best": result["best"]}
    return work


def _running(snap: dict) -> None:
    """A queued or running validation: a neural tower's epoch and step, or a network's maps so far."""
    last, stage = snap["last"] or {}, short(snap["stage"] or "starting")
    if snap["status"] == "queued":
        st.progress(0.0, text="Waiting for another job on this machine to finish…")
        return
    if "step" in last:  # a neural tower training (StepInfo), else a network's maps (done, total stimuli)
        done, steps = last["step"] / max(last["total_steps"], 1), f"{last['step']}/{last['total_steps']}"
        text = f"epoch {last['epoch'] + 1}/{snap['meta']['epochs']} · step {steps} · loss {last['loss']:.3f}"
    else:
        done, text = last.get("done", 0) / max(last.get("total", 1), 1), f"{last.get('done', 0)} stimuli"
    st.progress(min(done, 1.0), text=f"{stage} · {text} · {snap['elapsed_s']:.0f} s elapsed")


def job_status() -> None:
    """This session's validation: its stage and progress, polled every second, with a Stop button while it runs."""
    job_panel.stoppable_status(job_key(), _running, stop_label="Stop the validation", stop_key="mv.stop",
                               stop_help="Ends at the next batch of stimuli or training step; nothing is written",
                               finished="finished; its results are below.")


def builder(data_key: state.FileKey) -> None:
    """Settings, networks, layers and the Validate button, then this session's validation's progress."""
    job = jobs.get(job_key())
    left, right = st.columns(2)
    input_size = left.selectbox("Stimuli fed to the networks at", list(INPUT_SIZES), format_func=INPUT_SIZES.get,
                                key="mv.input_size")
    epochs = int(right.number_input("Epochs per alignment, at most", 1, 500, TrainConfig().epochs, key="mv.epochs",
                                    help="Each layer's neural tower trains as DINA's does, early-stopping on "
                                         "validation images"))
    chosen = networks_panel(data_key, input_size)
    layers = layers_panel(chosen, data_key, input_size) if chosen else None
    reference = dina_reference(data_key)
    st.caption(f"DINA reference row: the model in use, **{reference['name']}**." if reference else
               "No DINA model is in use on this recording, so the table will have no DINA row (Train page).")
    if st.button("Validate", type="primary", icon=":material/play_arrow:", key="mv.start",
                 disabled=layers is None or (job is not None and job.live)):
        root, name = state.runs_dir(), time.strftime("mv-%Y%m%d-%H%M%S")
        with guard():  # a link named validation must not lead out of the runs folder
            out = inside(root, Path(VALIDATION_DIR) / state.fingerprint(data_key) / name)
            cache = inside(root, Path(VALIDATION_DIR) / CACHE_DIR)
            work = validation_work(state.load_data(data_key), [spec_of(c) for c in chosen], out, layers,
                                   TrainConfig(epochs=epochs), input_size, cache, reference and reference["path"])
            jobs.start(job_key(), f"Validation {out.name}", out, work, meta={"epochs": epochs}, exclusive=True)
            st.rerun()
    job_status()
