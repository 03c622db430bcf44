"""The config forms (dina_app.forms) through Streamlit's AppTest: what a user types becomes a value its
dataclass accepts, and the device field offers this machine's devices (and only those, plus a saved one)."""

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dina_core.model import ModelConfig
from dina_core.model.device import resolve_device
from dina_core.runs.config import TrainConfig


def form_page(config: str, values: dict | None = None) -> None:
    """The script AppTest runs: one form of ``config`` ('model' or 'train'), its values kept in session state."""
    import streamlit as st

    from dina_app.forms import dataclass_form
    from dina_core.model import ModelConfig
    from dina_core.runs.config import TrainConfig

    cls = {"model": ModelConfig, "train": TrainConfig}[config]
    st.session_state["out"] = dataclass_form(cls, "form", basic=tuple(f for f in (values or {})), values=values)


def run_form(config: str, values: dict | None = None) -> AppTest:
    at = AppTest.from_function(form_page, kwargs={"config": config, "values": values}, default_timeout=60)
    return at.run()


@pytest.fixture
def two_gpus_and_mps(monkeypatch):
    """A machine with two CUDA devices and MPS, as far as torch's queries tell the form and resolve_device."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)


# One weight per aligned stage (three by default) / per retrieval level (those, the linear and encoding-model levels).
@pytest.mark.parametrize("field, typed", [("stage_weights", "1, 2, 1"), ("retrieval_weights", "1, 2, 1, 0.5, 1")])
def test_a_typed_list_for_an_empty_float_tuple_becomes_floats(field, typed):
    at = run_form("model", {field: ()})
    assert not at.exception
    at.text_input(key=f"form.{field}").input(typed).run()
    assert not at.error
    values = at.session_state["out"]
    expected = tuple(float(v) for v in typed.split(","))
    assert values[field] == expected and all(type(v) is float for v in values[field])
    assert ModelConfig.from_dict(values).to_dict()[field] == expected


def test_typed_tuples_keep_their_annotated_types():
    at = run_form("model", {"stage_channels": (16, 32, 48), "aligned_stages": ("stage0", "stage2", "stage3")})
    at.text_input(key="form.stage_channels").input("8, 16").run()
    at.text_input(key="form.aligned_stages").input("stage2").run()
    values = at.session_state["out"]
    assert values["stage_channels"] == (8, 16) and all(type(v) is int for v in values["stage_channels"])
    assert values["aligned_stages"] == ("stage2",)
    at.text_input(key="form.stage_channels").input("8, 1.5").run()  # an int field refuses a fraction, by name
    assert "stage channels: expected a comma-separated list of int values" in at.error[0].value


def test_device_choice_is_auto_cpu_and_this_machines_devices():
    at = run_form("train", {"device": "auto"})
    options = at.selectbox(key="form.device").options
    expected = ["auto", "cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    assert options == expected + (["mps"] if torch.backends.mps.is_available() else [])
    for device in options:  # everything offered trains here: the config and the device resolution accept it
        TrainConfig(device=device)
        resolve_device(device)


def test_device_choice_lists_each_cuda_device_and_mps(two_gpus_and_mps):
    at = run_form("train", {"device": "cuda:1"})
    box = at.selectbox(key="form.device")
    assert box.options == ["auto", "cpu", "cuda:0", "cuda:1", "mps"]
    assert box.value == "cuda:1" and at.session_state["out"]["device"] == "cuda:1"
    assert not at.caption
    for device in box.options:  # each is a device the config and resolve_device accept (no DeviceError)
        TrainConfig(device=device)
        resolve_device(device)


def test_a_saved_device_this_machine_lacks_stays_selectable_with_a_note(two_gpus_and_mps):
    at = run_form("train", {"device": "cuda:3"})
    box = at.selectbox(key="form.device")
    assert box.options[-1] == "cuda:3" and box.value == "cuda:3"
    assert "'cuda:3' is kept from the saved settings" in at.caption[0].value
    assert "2 CUDA device(s)" in at.caption[0].value
    box.select("cuda:0").run()
    assert at.session_state["out"]["device"] == "cuda:0"
