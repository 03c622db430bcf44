"""Model validation refuses bad networks, weights, layers and grids with a clear error, and runs nothing it loads."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torchvision
from torch import nn

from dina_core.errors import DinaError
from dina_core.model_validation import parse_spec, validate_models
from dina_core.model_validation.layers import resolve_layers
from dina_core.model_validation.networks import open_network
from dina_core.model_validation.specs import load_network, read_state_dict
from dina_core.simulate import SimConfig, simulate_recording


@pytest.fixture(scope="module")
def small():
    return simulate_recording(SimConfig.small())


@pytest.mark.parametrize("text, match", [
    ("resnet18", "expected one of"), ("keras:vgg", "expected one of"), ("torchvision:", "expected one of"),
    ("torchvision:resnet18:IMAGENET1K_V1", "never downloads"), ("torchvision:resnet18_pretrained", "never downloads"),
    ("python:mylab", "MODULE:FACTORY"),
])
def test_specs_that_cannot_be_run_offline_are_refused(text, match):
    with pytest.raises(DinaError, match=match):
        parse_spec(text)


def test_weights_belong_to_torchvision_specs_only(tmp_path):
    with pytest.raises(DinaError, match="only for torchvision"):
        parse_spec(f"torchscript:{tmp_path}/x.pt", weights=str(tmp_path / "w.pt"))


def test_an_unknown_torchvision_name_lists_real_ones():
    with pytest.raises(DinaError, match="not a torchvision architecture.*resnet18"):
        load_network(parse_spec("torchvision:resnet9000"))


def test_a_state_dict_loads_and_gives_the_same_network(tmp_path):
    torch.manual_seed(3)
    trained = torchvision.models.resnet18(weights=None)
    torch.save({"state_dict": {f"module.{k}": v for k, v in trained.state_dict().items()}}, tmp_path / "w.pth")
    loaded = load_network(parse_spec("torchvision:resnet18", str(tmp_path / "w.pth")))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), trained.state_dict().values()))
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training


def test_weights_of_another_architecture_name_the_keys(tmp_path):
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / "r34.pth")
    with pytest.raises(DinaError, match="unexpected keys \\(layer1.2"):
        load_network(parse_spec("torchvision:resnet18", str(tmp_path / "r34.pth")))
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), tmp_path / "alex.pth")
    with pytest.raises(DinaError, match="missing keys \\(conv1.weight"):
        load_network(parse_spec("torchvision:resnet18", str(tmp_path / "alex.pth")))
    state = torchvision.models.resnet18(weights=None, num_classes=10).state_dict()
    torch.save(state, tmp_path / "ten.pth")
    with pytest.raises(DinaError, match="of another shape \\(fc.weight \\(10, 512\\)"):
        load_network(parse_spec("torchvision:resnet18", str(tmp_path / "ten.pth")))


class Payload:
    """Unpickling this would run code: it writes a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_full_model_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    torch.save(Payload(str(marker)), tmp_path / "evil.pth")
    with pytest.raises(DinaError, match="weights_only=True.*not unpickled"):
        read_state_dict(str(tmp_path / "evil.pth"))
    assert not marker.exists()
    torch.save(torchvision.models.resnet18(weights=None), tmp_path / "full.pth")  # a whole module, not a state dict
    with pytest.raises(DinaError, match="pickled full model"):
        read_state_dict(str(tmp_path / "full.pth"))
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(DinaError, match="not a state dict"):
        read_state_dict(str(tmp_path / "text.pth"))


def test_an_unknown_layer_lists_the_valid_ones(small):
    network = open_network(parse_spec("torchvision:resnet18"), small)
    with pytest.raises(DinaError, match="no layer 'layer9'.*layer1, "):
        resolve_layers("layer1,layer9", network.layers, "resnet18")
    with pytest.raises(DinaError, match="twice"):
        resolve_layers("layer1,layer1", network.layers, "resnet18")


def test_a_layer_smaller_than_the_grid_is_refused_before_any_work(small, tmp_path):
    with pytest.raises(DinaError, match="smaller than the grid 9 x 16: layer4 \\(4 x 7\\)"):
        validate_models(small, [parse_spec("torchvision:resnet18")], tmp_path, layers="layer1,layer4", grid=(9, 16))
    assert not any(tmp_path.iterdir())


class Features(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)

    def forward(self, x):
        a = self.conv(x)
        return {"early": a, "late": torch.relu(a[:, :, ::2, ::2])}


def test_torchscript_layers_are_its_outputs_or_its_sequence(small, tmp_path):
    torch.jit.save(torch.jit.script(Features()), tmp_path / "dict.pt")
    layers = open_network(parse_spec(f"torchscript:{tmp_path / 'dict.pt'}"), small).layers
    assert [(x.name, x.shape[0]) for x in layers] == [("early", 4), ("late", 4)]
    sequence = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3))
    torch.jit.save(torch.jit.script(sequence), tmp_path / "seq.pt")
    layers = open_network(parse_spec(f"torchscript:{tmp_path / 'seq.pt'}"), small).layers
    assert [x.name for x in layers] == ["0", "1", "2", "3"] and layers[3].shape[0] == 16


def test_a_network_that_expects_another_input_says_how_to_feed_it(small, tmp_path):
    fixed = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 222 * 222, 2))  # 224 x 224 colour only
    torch.jit.save(torch.jit.trace(fixed, torch.zeros(1, 3, 224, 224)), tmp_path / "fixed.pt")
    with pytest.raises(DinaError, match="failed on the stimuli as fed, \\(2, 3, 112, 199\\).*--input-size"):
        open_network(parse_spec(f"torchscript:{tmp_path / 'fixed.pt'}"), small)
    assert open_network(parse_spec(f"torchscript:{tmp_path / 'fixed.pt'}"), small, input_size="224x224").layers
    with pytest.raises(DinaError, match="--input-channels"):
        open_network(parse_spec("torchvision:resnet18"), small, input_channels=1)
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 64)
    with pytest.raises(DinaError, match="not a TorchScript file"):
        open_network(parse_spec(f"torchscript:{tmp_path / 'junk.pt'}"), small)


def test_the_cli_lists_layers_and_refuses_a_download(tmp_path):
    data = tmp_path / "s.h5"
    from dina_core.data.format import write_dataset
    write_dataset(data, simulate_recording(SimConfig.small()))
    cli = [sys.executable, "-m", "dina_core.cli", "validate-model", str(data)]
    listed = subprocess.run(cli + ["--model", "torchvision:resnet18", "--layers", "list"], capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "layer2" in listed.stdout and "stage" in listed.stdout and "(random weights)" in listed.stdout
    refused = subprocess.run(cli + ["--model", "torchvision:resnet18:DEFAULT", "--layers", "all", "--out",
                                    str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "never downloads" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "out").exists()
