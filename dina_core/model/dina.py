"""The DINA model: an image CNN and a neural tower aligned at intermediate feature maps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ENCODING, ENCODING_MODEL, GLOBAL, LINEAR, PIXEL_STAGE, ModelConfig
from .encoding_head import EncodingHead
from .encoding_model_level import EncodingModelLevel
from .image_tower import ImageTower
from .neural_tower import NeuralTower
from .two_tower import TwoTowerModel


class DinaModel(TwoTowerModel):
    """Dual-tower model aligned location by location at chosen image-tower stages.

    At an aligned stage s, the image tower's map (B, C_s, h, w) and the neural tower's
    predicted map (B, C_s, h, w) are each projected by a 1x1 convolution into a shared
    latent space (B, L, h, w), flattened to (B, L*h*w) and L2-normalised; their dot
    product is the similarity, and its per-location terms form the alignment map.

    ``stage0`` is the pooled image (through a few linear filters and a learned weight per location
    when ``stage0_filters`` > 0): the neural tower predicts a coarse image-like map, and the
    similarity is the cosine between it and a linear map of the stimulus, a bilinear form
    ``x^T A r`` of pixels and responses, normalised. The linear two-tower scores with such a form
    too (``x^T W_i^T W_r r``, rank 128), but with full-resolution pixels and the raw responses.
    ``linear`` (``linear_level``) is that model itself as one more level: the flattened image and the
    (dropped-out) responses each mapped linearly to ``linear_dim`` (fitted before the maps and frozen,
    see ``train.linear_level``), so DINA contains the linear two-tower and validation decides how much
    its score counts beside the maps'. ``encoding`` (``encoding_level``) is the field's encoding-model decoder as
    one more level: a per-neuron readout of one image-tower map predicts the responses, and a pair scores the
    correlation of observed and predicted responses (``encoding_head``); training adds the head's regression
    loss (``forward``'s 'fit_loss'). ``encoding_model`` (``encoding_model_level``) is the encoding-model baseline
    itself, fitted first and frozen (``encoding_model_level``, ``train.encoding_model_level``): never trained by the
    contrastive loss (loss weight 0), so it is left out of the training forward's levels.

    Loss weights are ``config.stage_weights``; the retrieval score's level weights
    (``level_weights``) are ``config.retrieval_weights`` when set (chosen on validation).
    """

    IMAGE_SIDE = ("image_tower", "image_proj", "image_global")  # the modules that see only the stimulus (image_side)

    def __init__(self, config: ModelConfig, n_neurons: int, image_shape: tuple[int, int]):
        super().__init__(config.levels(), config.loss_weights(), config.init_temperature)
        if config.retrieval_weights:
            self.level_weights = dict(zip(self.levels, config.retrieval_weights))
        self.config = config
        self.n_neurons = int(n_neurons)
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self.image_tower = ImageTower(config.stage_channels, config.stem_stride,
                                      config.stage0_pool if PIXEL_STAGE in config.aligned_stages else None,
                                      config.stage0_filters, self.image_shape)
        map_shapes = {s: self.image_tower.stage_shape(self.image_shape, s) for s in config.aligned_stages}
        self.map_shapes = map_shapes
        self.neural_tower = NeuralTower(n_neurons, config.trunk_dim, map_shapes,
                                        config.global_dim if config.global_level else None, config.neuron_dropout,
                                        config.factorized_heads, config.linear_dim if config.linear_level else None)
        self.image_proj = nn.ModuleDict({s: nn.Conv2d(c, config.latent_channels, 1) for s, (c, _, _) in map_shapes.items()})
        self.neural_proj = nn.ModuleDict({s: nn.Conv2d(c, config.latent_channels, 1) for s, (c, _, _) in map_shapes.items()})
        last = self.image_tower.stage_names[-1]
        self.image_global = (nn.Linear(self.image_tower.stage_channels[last], config.global_dim)
                             if config.global_level else None)
        self.image_linear = (nn.Linear(self.image_shape[0] * self.image_shape[1], config.linear_dim)
                             if config.linear_level else None)
        self.encoding_head = (EncodingHead(self.n_neurons, self.image_tower.stage_channels[config.encoding_stage])
                              if config.encoding_level else None)
        self.encoding_model = EncodingModelLevel(self.n_neurons) if config.encoding_model_level else None
        self.image_side_frozen = False  # set by ``image_side.copy_image_side``: a transferred image side kept fixed
        if self.encoding_model is not None:  # never trained by the contrastive loss: nor is its temperature
            self.loss_weights[ENCODING_MODEL] = 0.0
            self.logit_scale[ENCODING_MODEL].requires_grad_(False)

    def train(self, mode: bool = True) -> "DinaModel":
        """``nn.Module.train``; a frozen image side stays in eval mode (its batch norm keeps its statistics)."""
        super().train(mode)
        if self.image_side_frozen:
            for name in self.IMAGE_SIDE:
                if getattr(self, name) is not None:
                    getattr(self, name).eval()
        return self

    # --- maps -------------------------------------------------------------------------------
    def image_latent_maps(self, images: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """images (B, 1, H, W) -> (latent maps {stage: (B, L, h, w)}, tower maps {stage: (B, C_s, h, w)})."""
        tower = self.image_tower(images)
        return {s: self.image_proj[s](tower[s]) for s in self.map_shapes}, tower

    def response_latent_maps(self, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None
                             ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """responses (B, n) -> (latent maps {stage: (B, L, h, w)}, predicted maps {stage: (B, C_s, h, w)},
        vector levels {'global' / 'linear': (B, D)} that are enabled)."""
        predicted, vectors = self.neural_tower(responses, neuron_mask)
        return {s: self.neural_proj[s](predicted[s]) for s in self.map_shapes}, predicted, vectors

    def alignment_map(self, images: torch.Tensor, responses: torch.Tensor, stage: str,
                      neuron_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-location similarity terms (B, h, w) of paired images and responses at ``stage``.

        Summing a map over (h, w) gives exactly that pair's similarity at the stage.
        """
        img, _ = self.image_latent_maps(images)
        neu, _, _ = self.response_latent_maps(responses, neuron_mask)
        b = img[stage].shape[0]
        zi = F.normalize(img[stage].reshape(b, -1), dim=-1).view_as(img[stage])
        zn = F.normalize(neu[stage].reshape(b, -1), dim=-1).view_as(neu[stage])
        return (zi * zn).sum(dim=1)

    # --- TwoTowerModel ----------------------------------------------------------------------
    def image_levels(self, images: torch.Tensor, skip_frozen: bool = False) -> dict[str, torch.Tensor]:
        """``TwoTowerModel.image_levels``; ``skip_frozen``: without the encoding-model level, which nothing trains."""
        latent, tower = self.image_latent_maps(images)
        out = {s: z.flatten(1) for s, z in latent.items()}
        if self.image_global is not None:
            out[GLOBAL] = self.image_global(tower[self.image_tower.stage_names[-1]].mean(dim=(2, 3)))
        if self.image_linear is not None:
            out[LINEAR] = self.image_linear(images.flatten(1))
        if self.encoding_head is not None:
            out[ENCODING] = self.encoding_head(tower[self.config.encoding_stage])
        if self.encoding_model is not None and not skip_frozen:
            out[ENCODING_MODEL] = self.encoding_model.image_embedding(images)
        return out

    def response_levels(self, responses: torch.Tensor, neuron_mask: torch.Tensor | None = None,
                        skip_frozen: bool = False) -> dict[str, torch.Tensor]:
        """``TwoTowerModel.response_levels``; ``skip_frozen`` as in ``image_levels``."""
        latent, _, vectors = self.response_latent_maps(responses, neuron_mask)
        out = {**{s: z.flatten(1) for s, z in latent.items()}, **vectors}
        if self.encoding_head is not None:
            out[ENCODING] = EncodingHead.response_embedding(responses, neuron_mask)
        if self.encoding_model is not None and not skip_frozen:
            out[ENCODING_MODEL] = self.encoding_model.response_embedding(responses, neuron_mask)
        return out

    def direct_response_levels(self) -> dict:
        """{level: embed(responses (B, n), neuron_mask) -> (B, n)} of the levels with no layer over the neurons
        (the encoding head's and the encoding model's: each reads the masked responses themselves)."""
        out = {}
        if self.encoding_head is not None:
            out[ENCODING] = EncodingHead.response_embedding
        if self.encoding_model is not None:
            out[ENCODING_MODEL] = self.encoding_model.response_embedding
        return out

    def forward(self, images: torch.Tensor, responses: torch.Tensor,
                neuron_mask: torch.Tensor | None = None) -> dict:
        """``TwoTowerModel.forward``'s output; while training with an encoding level, also 'fit_loss': the
        encoding head's regression loss on this batch times ``config.encoding_fit_weight`` (a scalar). While
        training, the encoding-model level (frozen, loss weight 0) is left out of the output."""
        img = self.image_levels(images, skip_frozen=self.training)  # a training step has no use for a frozen level
        out = self.outputs(img, self.response_levels(responses, neuron_mask, skip_frozen=self.training))
        if self.training and self.encoding_head is not None and self.config.encoding_fit_weight > 0:
            out["fit_loss"] = self.config.encoding_fit_weight * EncodingHead.fit_loss(img[ENCODING], responses)
        return out
