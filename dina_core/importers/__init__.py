"""Importers: everything that turns a lab's files into a DINA file (``data.format``).

Modules (import the one you need; this package imports nothing on its own):

* ``sensorium``: Sensorium 2022 / neuralpredictors static folders (or their ``.zip``).
* ``suite2p``: a suite2p output folder + stimulus table + images.
* ``nwb``, ``nwb_stimuli``: NWB 2.x ophys files (pynwb optional) and their stimulus tables and images.
* ``stimuli``: stimulus tables (CSV/TSV/JSON) and image stacks, tier assignment, image matching.
* ``confine``: nothing outside the folder given is read (a link inside a source may not lead out of it).
* ``archive``: zips from others, read or unpacked under limits (no link members, no names that climb
  out, no zip bombs, nothing past the free disk); the app unpacks uploads through it.
* ``traces``: the calcium-trace pipeline shared by suite2p and NWB (neuropil, baseline, dF/F,
  denoising, response windows, quality report, preview on a neuron sample); see its own map.

Layer: above ``data`` only; nothing below imports an importer.
"""
