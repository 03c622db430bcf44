"""Model validation: any vision network's layers as frozen DINA levels, aligned with V1 (``dina validate-model``).

``specs`` parses ``--model`` and loads the frozen network (never a download), ``inputs`` feeds it the grey stimuli,
``layers`` lists and catches its maps, ``features`` pools, caches and reduces them, ``networks`` ties these together
for one recording, ``alignment`` trains and scores one level, ``flow`` runs the whole validation and ``outputs``
writes its files.
"""

from .flow import JOINT, Progress, validate_models
from .specs import ModelSpec, parse_spec

__all__ = ["JOINT", "ModelSpec", "Progress", "parse_spec", "validate_models"]
