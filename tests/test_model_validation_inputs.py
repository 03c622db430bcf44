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
from dina_core.model_validation.specs import load_network
from dina_core.model_validation.weights import read_state_dict
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
    with pytest.raises(DinaError, match="not a torchvision classification architecture.*resnet18"):
        load_network(parse_spec("torchvision:resnet9000"))
    with pytest.raises(DinaError, match="classification"):  # its builder would download an ImageNet backbone
        load_network(parse_spec("torchvision:fasterrcnn_resnet50_fpn"))


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
    state = torchvision.models.resnet18(weights=None).state_dict()
    state["conv1.weight"] = state["conv1.weight"][:, :1]  # a grey-input ResNet's first layer
    torch.save(state, tmp_path / "grey.pth")
    with pytest.raises(DinaError, match="of another shape \\(conv1.weight \\(64, 1, 7, 7\\)"):
        load_network(parse_spec("torchvision:resnet18", str(tmp_path / "grey.pth")))


def test_a_self_supervised_checkpoint_loads_its_backbone(small, tmp_path):
    """MoCo-style: the network under 'module.encoder_q.', its classifier replaced by a projection head."""
    torch.manual_seed(5)
    trained = torchvision.models.resnet18(weights=None)
    state = {f"module.encoder_q.{k}": v for k, v in trained.state_dict().items() if not k.startswith("fc.")}
    state |= {"module.encoder_q.fc.0.weight": torch.zeros(512, 512), "module.queue": torch.zeros(128, 10)}
    torch.save({"state_dict": state, "epoch": 200}, tmp_path / "moco.pth.tar")
    spec = parse_spec("torchvision:resnet18", str(tmp_path / "moco.pth.tar"))
    network = open_network(spec, small)
    own = network.module.state_dict()
    assert all(torch.equal(own[k], v) for k, v in trained.state_dict().items() if not k.startswith("fc."))
    assert any("module.encoder_q." in n for n in network.notes) and any("classifier head (fc)" in n for n in network.notes)


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
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    kept = subprocess.run(cli + ["--model", "torchvision:resnet18", "--layers", "layer1", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert kept.returncode == 2 and "--overwrite" in kept.stderr and (tmp_path / "out" / "notes.txt").read_text() == "mine"


class Tokens(nn.Module):
    """A vision transformer's shape: 4 x 4 patches of a 16 x 28 input, a class token, one block."""

    def __init__(self):
        super().__init__()
        self.patches = nn.Conv2d(3, 8, 4, stride=4)
        self.block = nn.Linear(8, 8)

    def forward(self, x):
        tokens = self.patches(x).flatten(2).transpose(1, 2)  # (B, 4 * 7, 8)
        tokens = torch.cat([torch.zeros_like(tokens[:, :1]), tokens], dim=1)  # (B, 1 + 28, 8)
        return self.block(tokens)


def test_token_layers_are_read_on_their_patch_grid():
    from dina_core.model_validation.layers import list_layers, run_layers
    network, x = Tokens(), torch.randn(2, 3, 16, 28)
    layers = {layer.name: layer.shape for layer in list_layers(network, x, "tokens")}
    assert layers == {"patches": (8, 4, 7), "block": (8, 4, 7)}
    from dina_core.model_validation.layers import feature_map
    block = run_layers(network, x, ["block"])["block"]
    torch.testing.assert_close(feature_map(block, (16, 28))[:, :, 1, 2], block[:, 1 + 7 + 2])  # row 1, column 2
