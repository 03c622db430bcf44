"""Model configuration: one typed dataclass, round-tripping through JSON."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import DictConfig, why


@dataclass
class ModelConfig(DictConfig):
    """Architecture of the DINA dual-tower model (and of its global-only ablation)."""

    stage_channels: tuple[int, ...] = why((16, 32, 48), "image tower width per stage; each stage halves H and W "
                                                        "(sized for 2 CPU cores)")
    aligned_stages: tuple[str, ...] = why(("stage2", "stage3"), "feature maps aligned location by location")
    stage_weights: tuple[float, ...] = why((1.0, 1.0), "weight of each aligned stage in loss and retrieval score")
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
        self.stage_weights = tuple(float(w) for w in self.stage_weights)
        names = {f"stage{i + 1}" for i in range(len(self.stage_channels))}
        unknown = [s for s in self.aligned_stages if s not in names]
        if unknown:
            raise ValueError(f"aligned_stages {unknown} not in the image tower's stages {sorted(names)}")
        if len(self.stage_weights) != len(self.aligned_stages):
            raise ValueError("stage_weights needs one weight per aligned stage")
        if not self.aligned_stages and not self.global_level:
            raise ValueError("align at least one stage or the global level")

    @classmethod
    def global_only(cls, **overrides) -> "ModelConfig":
        """The ablation DINA improves on: same towers, alignment only at a pooled embedding."""
        return cls(**{"aligned_stages": (), "stage_weights": (), "global_level": True, **overrides})
