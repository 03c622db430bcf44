"""Progress of the CLI's long commands, written to suit where stdout goes (``--progress``).

``bar``: tqdm bars, for a terminal. ``lines``: plain lines for a log (a pipe, a file, nohup): one
per epoch of a training (epoch, step, loss, validation top-1, elapsed, ETA, rate) and one per
finished fit or stage, with no carriage return and no escape code. ``none``: no progress at all.
``auto`` (the default): ``bar`` when stdout is a terminal, ``lines`` otherwise. Progress goes to
stdout, the stream ``auto`` looks at; errors stay on stderr.

A :class:`Reporter` is driven by the core's callbacks: ``fit``'s StepInfo (``on_step``) and
:data:`dina_core.progress.Progress` stages (the reporter is one). Times and rates are measured
from the start of the work they describe, not from its first report.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

if TYPE_CHECKING:
    from ..train.loop import StepInfo

MODES = ("auto", "bar", "lines", "none")


def resolve_mode(mode: str, stream: TextIO) -> str:
    """'bar', 'lines' or 'none': ``mode`` itself, or for 'auto' a bar on a terminal and lines elsewhere."""
    if mode not in MODES:
        raise ValueError(f"progress mode {mode!r}: expected one of {MODES}")
    if mode != "auto":
        return mode
    return "bar" if stream.isatty() else "lines"


def duration(seconds: float) -> str:
    """'0.42 s' under 10 s, '42.0 s' under a minute, else tqdm's '[H:]MM:SS'."""
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    return tqdm.format_interval(seconds)


def rate(count: int, seconds: float, unit: str) -> str:
    """'12.3 step/s' (three significant digits), or '2.50 s/step' below one per second ('? step/s' before
    any time has passed)."""
    if count <= 0 or seconds <= 0:
        return f"? {unit}/s"
    per_second = count / seconds
    if per_second < 1:
        return f"{_digits(1 / per_second)} s/{unit}"
    return f"{_digits(per_second)} {unit}/s"


def _digits(value: float) -> str:
    """``value`` (at least 1) to three significant digits, without an exponent: 1.23, 61.0, 798915."""
    return f"{value:.{max(0, 2 - int(math.log10(value)))}f}"


def _loss(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "n/a"  # NaN: no loss read back yet


def _bar(total: int | None, desc: str, unit: str, file: TextIO, initial: int, started_s_ago: float) -> tqdm:
    """A tqdm bar whose clock started ``started_s_ago`` seconds ago, when its work began (smoothing 0: the
    rate shown is the mean since then, a true one; tqdm redraws at most every ``mininterval``)."""
    bar = tqdm(total=total, desc=desc, unit=unit, file=file, initial=initial, dynamic_ncols=True, smoothing=0)
    bar.start_t -= started_s_ago
    return bar


def _close(bar: tqdm, idle_s: float) -> None:
    """Close ``bar``, its last report ``idle_s`` seconds ago: its final elapsed time and rate are its work's."""
    bar.start_t += idle_s  # and the last draw with it: tqdm skips the final draw of a bar drawn before its start
    bar.last_print_t += idle_s
    bar.close()


class _Fit:
    """One call of ``fit``, seen through its StepInfos: its steps, best validation score and bar."""

    def __init__(self, label: str, first: StepInfo, clock: Callable[[], float], file: TextIO | None):
        self.label, self.last, self.steps, self.best, self.val = label, first, 0, None, None
        self.clock, self.last_at = clock, clock()
        self.bar = None if file is None else _bar(first.total_steps, label, "step", file, first.step - 1,
                                                  first.elapsed_s)  # the fit began before its first report

    def step(self, info: StepInfo) -> None:
        self.last, self.steps, self.last_at = info, self.steps + 1, self.clock()
        if info.val_top1 is not None:
            self.val = info.val_top1
            self.best = info.val_top1 if self.best is None else max(self.best, info.val_top1)
        if self.bar is not None:
            postfix = {"epoch": info.epoch + 1, "loss": _loss(info.loss)}
            if self.val is not None:
                postfix["val_top1"] = f"{self.val:.3f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)

    def epoch_line(self, info: StepInfo) -> str:
        return (f"{self.label}: epoch {info.epoch + 1}, step {info.step}/{info.total_steps}  loss {_loss(info.loss)}"
                f"  val top-1 {info.val_top1:.3f}  elapsed {duration(info.elapsed_s)}  ETA {duration(info.eta_s)}"
                f"  {rate(self.steps, info.elapsed_s, 'step')}")

    def done_line(self) -> str:
        seconds = self.last.elapsed_s
        best = "" if self.best is None else f", best val top-1 {self.best:.3f}"
        return (f"{self.label}: done, {self.steps} steps in {duration(seconds)} "
                f"({rate(self.steps, seconds, 'step')}){best}")


class _Stage:
    """One stage of a :data:`~dina_core.progress.Progress` operation, timed from ``started``."""

    def __init__(self, name: str, total: int, started: float, clock: Callable[[], float], unit: str,
                 file: TextIO | None):
        self.name, self.total, self.done, self.started, self.clock, self.unit = name, total, 0, started, clock, unit
        self.last_at = started
        self.bar = None if file is None else _bar(total, name, unit, file, 0, clock() - started)

    def update(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.done)
        self.done, self.total, self.last_at = done, total, self.clock()

    def done_line(self) -> str:
        seconds = self.last_at - self.started
        if self.total == 1:
            return f"{self.name}: done in {duration(seconds)}"
        return (f"{self.name}: {self.done}/{self.total} {self.unit}s in {duration(seconds)} "
                f"({rate(self.done, seconds, self.unit)})")


class Reporter:
    """The progress display of one command (module docstring); a context manager that closes it.

    Args:
        mode: one of MODES.
        label: names the fits reported until the next ``begin`` (e.g. 'train dina').
        unit: what a Progress stage counts ('step', 'item').
        stream: where to write (default: stdout).
        clock: monotonic seconds (tests give a fake one).
    """

    def __init__(self, mode: str = "auto", label: str = "train", unit: str = "step", stream: TextIO | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.stream = sys.stdout if stream is None else stream
        self.mode, self.label, self.unit, self.clock = resolve_mode(mode, self.stream), label, unit, clock
        self.steps = 0  # optimiser steps of every fit so far: counts on across fits, members, trials and models
        self._fit: _Fit | None = None
        self._stage: _Stage | None = None
        self._fits_in_label = 0
        self._since = clock()  # when the work now running began: the time of the last report

    def begin(self, label: str, title: str | None = None) -> None:
        """The fits that follow are ``label``'s (a model, a member, a trial); ``title`` is said first."""
        self._end()
        self.label, self._fits_in_label = label, 0
        if title is not None:
            self.say(title)

    def on_step(self, info: StepInfo) -> None:
        """``fit``'s callback. ``info.step`` counts within one fit: a step not past the last one, or another
        ``info.stage`` (DINA's maps after its linear level), begins a new fit (an ensemble's next member), and
        ``steps`` counts on over all."""
        if self._fit is None or info.step <= self._fit.last.step or info.stage != self._fit.last.stage:
            self._end()
            self._fits_in_label += 1
            if info.stage != "train":  # DINA's 'linear level', then its 'maps'
                label = f"{self.label} ({info.stage})"
            else:
                label = self.label if self._fits_in_label == 1 else f"{self.label} (fit {self._fits_in_label})"
            self._fit = _Fit(label, info, self.clock, self._bar_file())
        self._fit.step(info)
        self.steps += 1
        if self.mode == "lines" and info.val_top1 is not None:
            self._line(self._fit.epoch_line(info))
        self._since = self.clock()

    def __call__(self, done: int, total: int, stage: str) -> None:
        """A :data:`~dina_core.progress.Progress` callback: ``done`` of ``total`` counts within ``stage``."""
        if self._stage is None or stage != self._stage.name:
            self._end()
            self._stage = _Stage(stage, total, self._since, self.clock, self.unit, self._bar_file())
        self._stage.update(done, total)
        self._since = self.clock()
        if done >= total:
            self._end()

    def say(self, text: str) -> None:
        """A progress message (e.g. 'model 2/5: linear'), written as ``write`` does except under 'none'."""
        if self.mode != "none":
            self.write(text)

    def write(self, text: str) -> None:
        """A line of results, in every mode, once the running fit or stage has ended (its done line first)."""
        self._end()
        self._line(text)
        self._since = self.clock()

    def close(self, finished: bool = True) -> None:
        """End the running fit or stage; its done line is written only when it ``finished`` (no error)."""
        self._end(finished)

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(finished=exc_type is None)

    def _bar_file(self) -> TextIO | None:
        return self.stream if self.mode == "bar" else None

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _end(self, finished: bool = True) -> None:
        for part in (self._fit, self._stage):
            if part is not None and part.bar is not None:
                _close(part.bar, self.clock() - part.last_at)
            elif part is not None and self.mode == "lines" and finished:
                overall = part is self._fit and self.steps != part.steps  # fits before this one
                self._line(part.done_line() + (f"; {self.steps} steps in all so far" if overall else ""))
        self._fit = self._stage = None
