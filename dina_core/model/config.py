"""Model configuration: one typed dataclass, round-tripping through JSON."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import DictConfig, why

PIXEL_STAGE = "stage0"  # the pixel-level map: the (pooled, standardised) image itself

# Values that rebuild the model a checkpoint written before a field existed was trained with:
# ``saved_config`` fills a missing field from here, so old runs load unchanged while new runs get the defaults.
LEGACY = {"stem_stride": 1, "stage0_pool": 2, "stage0_filters": 0, "retrieval_weights": ()}


@dataclass
class ModelConfig(DictConfig):
    """Architecture of the DINA dual-tower model (and of its global-only ablation)."""

    stage_channels: tuple[int, ...] = why((16, 32, 48), "image tower width per stage; each stage halves H and W "
                                                        "(sized for 2 CPU cores)")
    stem_stride: int = why(2, "stride of the image tower's first conv; 2 halves the resolution there instead of "
                              "in stage1 (same stage shapes, 2.4x faster on CPU, no loss on validation)")
    aligned_stages: tuple[str, ...] = why(("stage0", "stage2", "stage3"),
                                          "feature maps aligned location by location; stage0 is the pooled image "
                                          "itself, so DINA contains a linear pixel read-out as one level")
    stage_weights: tuple[float, ...] = why((), "weight of each aligned stage in the loss (and in the retrieval "
                                               "score unless retrieval_weights is set); empty: 1 each")
    stage0_pool: int = why(2, "pixels averaged per side for the stage0 map (coarse structure carries real-data "
                              "decoding: low-pass probes keep most of it)")
    stage0_filters: int = why(4, "linear 5x5 filters of the pooled image with a learned weight per location "
                                 "(0: the pooled image itself), so stage0 can ignore pixels no neuron sees "
                                 "and weigh spatial frequencies, as the linear model's pixel map can")
    retrieval_weights: tuple[float, ...] = why((), "weight of each level in the retrieval score (empty: the loss "
                                                   "weights); training sets it from validation retrieval")
    global_level: bool = why(False, 'also align a pooled whole-image embedding (the "traditional" alignment)')
    global_weight: float = why(1.0, "weight of the global level when enabled")
    latent_channels: int = why(16, "channels per location in the shared latent space (1x1 projections)")
    global_dim: int = why(128, "size of the pooled global embedding")
    trunk_dim: int = why(256, "neural tower trunk width: a linear map of the population, "
                              "as measured best on real data")
    factorized_heads: bool = why(False, "heads as spatial x feature factors: far fewer weights, "
                                        "but learnt slower on the demo")
    neuron_dropout: float = why(0.5, "drop whole neurons while training so no single cell carries the match")
    init_temperature: float = why(0.07, "InfoNCE temperature at start; learned per level afterwards")

    def __post_init__(self) -> None:
        self.stage_channels = tuple(int(c) for c in self.stage_channels)
        self.aligned_stages = tuple(str(s) for s in self.aligned_stages)
        self.stage_weights = tuple(float(w) for w in self.stage_weights) or (1.0,) * len(self.aligned_stages)
        self.retrieval_weights = tuple(float(w) for w in self.retrieval_weights)
        names = {PIXEL_STAGE} | {f"stage{i + 1}" for i in range(len(self.stage_channels))}
        unknown = [s for s in self.aligned_stages if s not in names]
        if unknown:
            raise ValueError(f"aligned_stages {unknown} not in the image tower's stages {sorted(names)}")
        if len(set(self.aligned_stages)) != len(self.aligned_stages):
            raise ValueError(f"aligned_stages {list(self.aligned_stages)} names a stage twice")
        if len(self.stage_weights) != len(self.aligned_stages):
            raise ValueError("stage_weights needs one weight per aligned stage")
        if not self.aligned_stages and not self.global_level:
            raise ValueError("align at least one stage or the global level")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.stage0_filters < 0:
            raise ValueError(f"stage0_filters must be >= 0, got {self.stage0_filters}")
        if self.stage0_pool < 1:
            raise ValueError(f"stage0_pool must be >= 1, got {self.stage0_pool}")
        n_levels = len(self.aligned_stages) + int(self.global_level)
        if self.retrieval_weights and (len(self.retrieval_weights) != n_levels
                                       or min(self.retrieval_weights) < 0 or max(self.retrieval_weights) <= 0):
            raise ValueError(f"retrieval_weights needs {n_levels} non-negative weights (not all 0), "
                             f"got {list(self.retrieval_weights)}")

    @classmethod
    def global_only(cls, **overrides) -> "ModelConfig":
        """The ablation DINA improves on: same towers, alignment only at a pooled embedding."""
        return cls(**{"aligned_stages": (), "stage_weights": (), "global_level": True, **overrides})


def saved_config(values: dict) -> dict:
    """A checkpoint's stored config dict with every field it predates set to its ``LEGACY`` value."""
    return {**LEGACY, **values}
