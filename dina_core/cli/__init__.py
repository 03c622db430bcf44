"""The ``dina`` command line: simulate, import, inspect, train, evaluate, benchmark.

Modules, one job each:

* ``entry``: :func:`main`, the one top-level error path (user errors print ``error: ...`` and exit 2;
  ``--debug`` shows the traceback; anything else is reported as an internal error).
* ``parser``: the commands and their options.
* ``preflight``: option values, config files and paths checked before any expensive work.
* ``commands``: one function per command that makes or reads a recording or trains (info, simulate,
  import, train, benchmark, demo); ``scoring``: evaluate and analyze, which check the run's data first.
* ``bars``: progress from the core's callbacks: tqdm bars on a terminal, plain lines in a log (``--progress``).
"""

from .entry import main

__all__ = ["main"]
