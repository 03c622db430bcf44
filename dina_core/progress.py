"""The progress callback every long core operation accepts (an import, an analysis).

``progress(done, total, stage)`` says that ``done`` of the ``total`` units of the stage named
``stage`` are finished. ``done`` counts **within that stage**, never over the whole operation:
an operation of several stages reports each with its own counts, one stage after another (a
stage's calls are consecutive and its ``done`` never decreases), and a stage is finished when
``done == total``. A caller may announce a stage as it starts with ``done = 0``, so that a
display times it from its start; a stage not announced is timed from the previous call.

Example, an import: ``(250, 1000, 'images') ... (1000, 1000, 'images')``, then
``(250, 1000, 'responses') ...``. The CLI draws one bar or writes one line per stage from it and
the app an ``st.progress``; the core never knows which.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int, str], None]
