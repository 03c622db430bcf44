"""Model configuration: one typed dataclass, round-tripping through JSON."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, DictConfig, check_bool, check_float, check_int, check_tuple, why
from ..limits import check_sizes

PIXEL_STAGE = "stage0"  # the pixel-level map: the (pooled, standardised) image itself
GLOBAL = "global"  # the level of a pooled whole-image embedding (the "traditional" alignment)
LINEAR = "linear"  # the level of the linear two-tower inside DINA: raw pixels and raw responses, each mapped linearly
ENCODING = "encoding"  # the level of the encoding head: each neuron's response predicted from the image tower's maps
ENCODING_MODEL = "encoding_model"  # the level of the fitted encoding baseline, frozen (model.encoding_model_level)
FITTED_FIRST = (LINEAR, ENCODING_MODEL)  # levels fitted before the maps as their own baselines, then frozen

# Values that rebuild the model a checkpoint written before a field existed was trained with:
# ``saved_config`` fills a missing field from here, so old runs load unchanged while new runs get the defaults.
LEGACY = {"stem_stride": 1, "stage0_pool": 2, "stage0_filters": 0, "retrieval_weights": (), "linear_level": False,
          "encoding_level": False, "encoding_model_level": False}


@dataclass
class ModelConfig(DictConfig):
    """Architecture of the DINA dual-tower model (and of its global-only ablation)."""

    stage_channels: tuple[int, ...] = why((16, 32, 48), "image tower width per stage; each stage halves H and W "
                                                        "(sized for 2 CPU cores)")
    stem_stride: int = why(2, "stride of the image tower's first conv; 2 halves the resolution there instead of "
                              "in stage1 (same stage shapes, much faster on CPU, no loss on validation)")
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
    linear_level: bool = why(True, "also align the linear two-tower's embeddings (pixels -> linear_dim, responses "
                                   "-> linear_dim) as one more level, fitted first and frozen while the maps train "
                                   "(train.linear_level): DINA holds the linear baseline as its special case, and "
                                   "validation weighs it against the maps")
    linear_weight: float = why(1.0, "the linear level's retrieval weight before validation chooses (its loss weight "
                                    "only when no map or global level trains beside it)")
    linear_dim: int = why(128, "size of the linear level's embedding (the linear two-tower's embed_dim)")
    encoding_level: bool = why(False, "also predict every neuron's response from the image tower's maps (a "
                                      "Gaussian readout per neuron, as the field's encoding models) and score a pair "
                                      "by the correlation over neurons of observed and predicted responses, as one "
                                      "more level; off by default: validation has not yet favoured it on every "
                                      "recording (bench/results/encoding_level_cpu.md)")
    encoding_stage: str = why("stage2", "image-tower stage the encoding head reads (stage2: V1-sized receptive "
                                        "fields at a quarter of the image resolution)")
    encoding_weight: float = why(1.0, "the encoding level's loss weight (and retrieval weight before validation "
                                      "chooses)")
    encoding_fit_weight: float = why(10.0, "weight of the encoding head's regression loss (mean squared error of "
                                           "the predicted z-scored responses, each centred over neurons) beside its "
                                           "InfoNCE: it anchors the head to each neuron's own tuning (1 learnt "
                                           "little on the simulator; 10 and above learnt the noise-free responses)")
    encoding_model_level: bool = why(True, "also hold the field's standard decoder as one more level: the encoding "
                                           "model (convolutional core, Gaussian readout, Poisson loss; the "
                                           "benchmark's encoding row) fitted first on the same split and frozen, "
                                           "scoring a pair by correlation or Poisson likelihood "
                                           "(train.encoding_model_level); validation weighs it against the maps. "
                                           "It raised validation top-1 on the simulator and all three Antolik "
                                           "regions (bench/results/encoding_model_level_cpu.md)")
    encoding_model_rule: str = why("auto", "how the encoding-model level scores a pair: 'correlation', "
                                           "'log_likelihood' (Poisson) or 'auto': the one with the higher "
                                           "single-trial validation top-1 (as the encoding baseline chooses)")
    encoding_model_weight: float = why(1.0, "the encoding-model level's retrieval weight before validation chooses "
                                            "(it is never trained by the contrastive loss)")
    latent_channels: int = why(16, "channels per location in the shared latent space (1x1 projections)")
    global_dim: int = why(128, "size of the pooled global embedding")
    trunk_dim: int = why(256, "neural tower trunk width: a linear map of the population, "
                              "as measured best on real data")
    factorized_heads: bool = why(False, "heads as spatial x feature factors: far fewer weights, "
                                        "but learnt slower on the demo")
    neuron_dropout: float = why(0.5, "drop whole neurons while training so no single cell carries the match")
    init_temperature: float = why(0.07, "InfoNCE temperature at start; learned per level afterwards")

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_tuple(self, "stage_channels", kind=int, lo=1)
        if not isinstance(self.aligned_stages, (list, tuple)) or not all(isinstance(s, str) for s in self.aligned_stages):
            raise ConfigError(name, "aligned_stages", "a list of stage names", self.aligned_stages)
        self.aligned_stages = tuple(self.aligned_stages)
        stages = [PIXEL_STAGE] + [f"stage{i + 1}" for i in range(len(self.stage_channels))]
        unknown = [s for s in self.aligned_stages if s not in stages]
        if unknown:
            raise ConfigError(name, "aligned_stages", f"stages of the image tower ({', '.join(stages)})", unknown)
        if len(set(self.aligned_stages)) != len(self.aligned_stages):
            raise ConfigError(name, "aligned_stages", "each stage at most once", self.aligned_stages)
        if self.aligned_stages and list(self.stage_weights):
            check_tuple(self, "stage_weights", length=len(self.aligned_stages), lo=0.0)
        elif list(self.stage_weights):
            raise ConfigError(name, "stage_weights", "no weights when no stage is aligned", self.stage_weights)
        else:
            self.stage_weights = (1.0,) * len(self.aligned_stages)  # empty: 1 per aligned stage
        check_bool(self, "global_level")
        check_bool(self, "linear_level")
        if not (self.aligned_stages or self.global_level or self.linear_level or self.encoding_level):
            raise ConfigError(name, "aligned_stages", "at least one stage, or global_level, linear_level or "
                              "encoding_level true (the encoding-model level is fitted apart, not trained "
                              "with them)", self.aligned_stages)
        check_bool(self, "encoding_model_level")
        if self.encoding_model_rule not in ("auto", "correlation", "log_likelihood"):
            raise ConfigError(name, "encoding_model_rule", "one of auto, correlation, log_likelihood",
                              self.encoding_model_rule)
        check_float(self, "encoding_model_weight", lo=0.0)
        check_float(self, "global_weight", lo=0.0)
        check_float(self, "linear_weight", lo=0.0)
        check_bool(self, "encoding_level")
        feature_stages = [f"stage{i + 1}" for i in range(len(self.stage_channels))]
        if self.encoding_level and self.encoding_stage not in feature_stages:  # unused without the level
            raise ConfigError(name, "encoding_stage", f"a stage of the image tower ({', '.join(feature_stages)})",
                              self.encoding_stage)
        check_float(self, "encoding_weight", lo=0.0)
        check_float(self, "encoding_fit_weight", lo=0.0)
        for size in ("latent_channels", "global_dim", "trunk_dim", "stage0_pool", "linear_dim"):
            check_int(self, size, lo=1)
        check_int(self, "stem_stride", lo=1, hi=2)
        check_int(self, "stage0_filters", lo=0)
        check_bool(self, "factorized_heads")
        check_float(self, "neuron_dropout", lo=0.0, hi=1.0, hi_open=True)  # 1 would drop every neuron
        check_float(self, "init_temperature", lo=0.0, lo_open=True)
        n_levels = len(self.levels())
        if list(self.retrieval_weights):
            weights = check_tuple(self, "retrieval_weights", length=n_levels, lo=0.0)
            if max(weights) <= 0:
                raise ConfigError(name, "retrieval_weights", f"{n_levels} non-negative weights, not all 0", weights)
        else:
            self.retrieval_weights = ()
        check_sizes(self)  # the documented maxima (limits.MODEL_MAXIMA), wherever a config is made

    def levels(self) -> tuple[str, ...]:
        """The model's retrieval levels in order: aligned stages, then global, linear, encoding and encoding model
        when enabled."""
        return (self.aligned_stages + ((GLOBAL,) if self.global_level else ()) + ((LINEAR,) if self.linear_level else ())
                + ((ENCODING,) if self.encoding_level else ())
                + ((ENCODING_MODEL,) if self.encoding_model_level else ()))

    def loss_weights(self) -> tuple[float, ...]:
        """Loss weight of each of ``levels()``."""
        return (self.stage_weights + ((self.global_weight,) if self.global_level else ())
                + ((self.linear_weight,) if self.linear_level else ())
                + ((self.encoding_weight,) if self.encoding_level else ())
                + ((self.encoding_model_weight,) if self.encoding_model_level else ()))

    @classmethod
    def global_only(cls, **overrides) -> "ModelConfig":
        """The ablation DINA improves on: same towers, alignment only at a pooled embedding."""
        return cls(**{"aligned_stages": (), "stage_weights": (), "global_level": True, "linear_level": False,
                      "encoding_level": False, "encoding_model_level": False, **overrides})


def saved_config(values: dict) -> dict:
    """A checkpoint's stored config dict with every field it predates set to its ``LEGACY`` value."""
    return {**LEGACY, **values}
