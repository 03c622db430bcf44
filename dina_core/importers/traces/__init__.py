"""From raw two-photon traces to one response per trial and neuron.

Usage::

    from dina_core.importers.stimuli import read_images, read_stimulus_table
    from dina_core.importers.suite2p import load_suite2p
    from dina_core.importers.traces import TraceConfig
    from dina_core.importers.traces.dataset import build_dataset
    from dina_core.importers.traces.quality import quality_report

    recording = load_suite2p("session/suite2p")              # memory-mapped traces
    table = read_stimulus_table("session/stimulus_table.csv")
    images, ids = read_images("session/images.npy")
    data, trials = build_dataset(recording, table, images, ids, TraceConfig(),
                                 images_source="session/images.npy", attrs={})
    report = quality_report(trials, data.image_index)

Modules: ``config`` (:class:`TraceConfig`: every step's parameters), ``recording`` (raw
traces, read in neuron chunks), ``preprocess`` (neuropil, baseline, dF/F, denoising),
``extract`` (window means around onsets), ``quality`` (reliability, responsiveness, trace
examples), ``dataset`` (a :class:`~dina_core.data.format.DinaData` with its
``preprocessing`` record). Importers: :mod:`dina_core.importers.suite2p`,
:mod:`dina_core.importers.nwb`. Only the light config is imported here, so the command line can
build its options from it without loading scipy.
"""

from dina_core.importers.traces.config import TraceConfig

__all__ = ["TraceConfig"]
