"""DINA: Dual-Tower Image-Neural Alignment for V1 population recordings.

The public Python API (five lines from recording to retrieval)::

    import dina_core
    recording = dina_core.simulate_recording(size="small")   # or dina_core.load("mouse1.h5")
    model = dina_core.DINA(epochs=5).fit(recording)
    print(model.score(recording))                     # test tier, as `dina evaluate` prints it
    hits = model.retrieve(recording.responses[:3], recording.images, k=5, behavior=recording.behavior[:3])

Names: :class:`DINA`, :func:`load`, :func:`simulate_recording`, :func:`import_sensorium`, :func:`import_suite2p`,
:func:`import_nwb`, :func:`analyze`, :func:`run_benchmark`, :func:`validate_model`, :class:`Scores`, :class:`Retrieval`,
:class:`DinaData`, :class:`DinaError`. They are imported on first use, so ``import dina_core`` (and the
CLI's start) stays fast. The core never imports streamlit; the app in ``app.py``/``pages/`` is a thin
layer over it.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# not ``simulate`` / ``benchmark``: those names are the subpackage and module, which importing them binds here
_API = ("DINA", "Retrieval", "Scores", "analyze", "import_nwb", "import_sensorium", "import_suite2p", "load",
        "run_benchmark", "simulate_recording", "validate_model")
_ELSEWHERE = {"DinaData": "dina_core.data.format", "DinaError": "dina_core.errors",
              "DinaWarning": "dina_core.errors"}
__all__ = [*_API, *_ELSEWHERE]


def __getattr__(name: str):
    """The public names, imported when first asked for (PEP 562)."""
    if name in _API:
        return getattr(importlib.import_module("dina_core.api"), name)
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module 'dina_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
