"""InfoNCE against a naive reference, and the property that aligned pairs score a lower loss."""

import math

import torch
import torch.nn.functional as F

from dina_core.train.loss import info_nce, multilevel_info_nce


def naive_info_nce(z_neu, z_img, scale, image_ids=None):
    """Per-row log-softmax written out with explicit loops (float64)."""
    z_neu, z_img = z_neu.double(), z_img.double()
    b = z_neu.shape[0]
    sim = [[scale * float(z_neu[i] @ z_img[j]) for j in range(b)] for i in range(b)]
    def excluded(i, j):
        return image_ids is not None and i != j and image_ids[i] == image_ids[j]
    n2i = i2n = 0.0
    for i in range(b):
        row = [sim[i][j] for j in range(b) if not excluded(i, j)]
        col = [sim[j][i] for j in range(b) if not excluded(j, i)]
        n2i += -(sim[i][i] - math.log(sum(math.exp(v) for v in row)))
        i2n += -(sim[i][i] - math.log(sum(math.exp(v) for v in col)))
    return 0.5 * (n2i + i2n) / b


def test_info_nce_matches_naive_reference():
    g = torch.Generator().manual_seed(0)
    z_neu = F.normalize(torch.randn(9, 5, generator=g), dim=-1)
    z_img = F.normalize(torch.randn(9, 5, generator=g), dim=-1)
    got = info_nce(z_neu, z_img, torch.tensor(7.0))
    assert abs(float(got) - naive_info_nce(z_neu, z_img, 7.0)) < 1e-5


def test_info_nce_masks_repeated_images():
    g = torch.Generator().manual_seed(1)
    z_neu = F.normalize(torch.randn(8, 4, generator=g), dim=-1)
    z_img = F.normalize(torch.randn(8, 4, generator=g), dim=-1)
    ids = torch.tensor([0, 1, 1, 2, 3, 3, 3, 4])
    got = info_nce(z_neu, z_img, torch.tensor(3.0), ids)
    assert abs(float(got) - naive_info_nce(z_neu, z_img, 3.0, ids.tolist())) < 1e-5
    assert abs(float(got) - float(info_nce(z_neu, z_img, torch.tensor(3.0)))) > 1e-4


def test_aligned_pairs_score_lower_than_shuffled():
    g = torch.Generator().manual_seed(2)
    z_img = F.normalize(torch.randn(32, 16, generator=g), dim=-1)
    z_neu = F.normalize(z_img + 0.3 * torch.randn(32, 16, generator=g), dim=-1)
    aligned = info_nce(z_neu, z_img, torch.tensor(10.0))
    shuffled = info_nce(z_neu[torch.randperm(32, generator=g)], z_img, torch.tensor(10.0))
    assert aligned < shuffled - 1.0
    assert shuffled > math.log(32) * 0.8  # a shuffled pairing is near chance level, log(B)


def test_multilevel_sums_weighted_levels():
    g = torch.Generator().manual_seed(3)
    levels = {lv: (F.normalize(torch.randn(6, 4, generator=g), dim=-1).requires_grad_(),
                   F.normalize(torch.randn(6, 4, generator=g), dim=-1)) for lv in ("a", "b")}
    outputs = {"neural": {k: v[0] for k, v in levels.items()}, "image": {k: v[1] for k, v in levels.items()},
               "logit_scale": {"a": torch.tensor(5.0), "b": torch.tensor(2.0)}}
    total, per_level = multilevel_info_nce(outputs, {"a": 1.0, "b": 0.5})
    expected = {lv: info_nce(*levels[lv], outputs["logit_scale"][lv]) for lv in levels}
    assert torch.allclose(total, expected["a"] + 0.5 * expected["b"])
    assert set(per_level) == {"a", "b"}
    for lv, value in per_level.items():  # unweighted, detached, and left a tensor: no wait for the device here
        assert isinstance(value, torch.Tensor) and value.grad_fn is None
        assert torch.equal(value, expected[lv].detach())
