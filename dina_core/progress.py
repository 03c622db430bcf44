"""The progress callback every long core operation accepts (an import, an analysis).

``progress(done, total, stage)`` is called after each step: ``done`` steps of ``total``
finished, ``stage`` a short human-readable name of the step just done. The CLI drives a
terminal bar with it and the app an ``st.progress``; the core never knows which.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int, str], None]
