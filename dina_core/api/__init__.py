"""The public Python surface, re-exported at the package's top level (``import dina_core``).

* ``estimator``: :class:`DINA`, the model as a scikit-learn style estimator.
* ``functions``: ``load``, ``simulate_recording``, ``import_sensorium`` / ``import_suite2p`` / ``import_nwb``,
  ``analyze``, ``run_benchmark``, ``validate_model``.
* ``scores``: :class:`Scores` (what ``DINA.score`` returns) and :class:`Retrieval`.
* ``settings``: the estimator's flat settings, routed to the model and training configs.
* ``arrays``: checks of the arrays and recordings a user passes in.

Layer: above everything in the core but the CLI, which sits on the same functions.
"""

from .estimator import DINA
from .functions import (analyze, import_nwb, import_sensorium, import_suite2p, load, run_benchmark, simulate_recording,
                        validate_model)
from .scores import Retrieval, Scores

__all__ = ["DINA", "Retrieval", "Scores", "analyze", "run_benchmark", "import_nwb", "import_sensorium",
           "import_suite2p", "load", "simulate_recording", "validate_model"]
