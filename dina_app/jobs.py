"""Background workers for training, benchmarks and imports; the pages start them and poll their progress.

A module-level registry maps a job key to its ``Job``: user trainings are keyed by the
browser session (``train:<session id>``), jobs whose result every session shares by
the recording (``demo:<fingerprint>``, ``baselines:<fingerprint>``). Streamlit reruns
never restart a job: ``start`` returns the live job of a key. Jobs run one at a time:
two trainings on 2 shared cores would each crawl and make every ETA wrong, so a second
job waits, shown as 'queued'. A job never calls Streamlit; it records progress under
a lock, and the page draws it from ``snapshot()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dina_core.errors import DinaError

if TYPE_CHECKING:  # torch: imported by the worker, not by every page that shows a job
    from dina_core.train.loop import StepInfo

LIVE = ("queued", "running")
_JOBS: dict[str, "Job"] = {}
_REGISTRY_LOCK = threading.Lock()
_ONE_AT_A_TIME = threading.Semaphore(1)
log = logging.getLogger(__name__)


class Stopped(Exception):
    """Raised inside a job's work by its progress callback once the user asked it to stop."""


class Job:
    """One background piece of work with progress a page can poll."""

    def __init__(self, key: str, label: str, out_dir: Path, work: Callable[["Job"], dict | None],
                 meta: dict | None = None):
        self.key, self.label, self.out_dir, self._work = key, label, Path(out_dir), work
        self.meta = dict(meta or {})  # shown beside the progress, e.g. {'epochs': 25, 'device': 'cpu'}
        self._lock, self._stop = threading.Lock(), threading.Event()
        self.status, self.error, self.result, self.stage = "queued", None, None, ""
        self.losses: list[tuple[int, float]] = []  # (global step, batch loss), for the steps whose loss was read back
        self.val_top1: list[tuple[int, float]] = []  # (epoch, validation top-1) per finished epoch
        self.last: dict | None = None  # the latest StepInfo as a dict
        self.started = time.time()
        self._thread = threading.Thread(target=self._main, name=f"dina-job-{key}", daemon=True)

    # -- called from the worker thread ------------------------------------------------------
    def on_step(self, info: "StepInfo") -> None:
        """A training step; a new fit of the same run (``info.stage``: DINA's linear level, then its
        maps) starts the curves afresh, so one curve never mixes two fits' epochs."""
        with self._lock:
            if self.last is not None and self.last.get("stage") != info.stage:
                self.losses, self.val_top1 = [], []
            self.last = dict(vars(info))
            if info.loss_step == info.step:  # the loop reads losses back every LOG_EVERY steps only
                self.losses.append((info.step, info.loss))
            if info.val_top1 is not None:
                self.val_top1.append((info.epoch, info.val_top1))

    def on_progress(self, done: int, total: int, stage: str) -> None:
        """An importer's ``progress(done, total, stage)`` callback: ``last`` becomes {'done', 'total'}.

        Raises:
            Stopped: once ``stop()`` was called, so work without its own stop check ends at its next
                progress report (an atomic writer then leaves no file behind).
        """
        if self._stop.is_set():
            raise Stopped
        with self._lock:
            self.stage, self.last = stage, {"done": done, "total": total}

    def set_stage(self, stage: str) -> None:
        """A new phase (e.g. the next benchmark model): its curves start afresh."""
        with self._lock:
            self.stage, self.losses, self.val_top1, self.last = stage, [], [], None

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def _main(self) -> None:
        with _ONE_AT_A_TIME:
            if self._stop.is_set():
                self._finish("stopped")
                return
            with self._lock:
                self.status = "running"
            try:
                result = self._work(self)
            except Stopped:
                self._finish("stopped")
            except DinaError as exc:
                self._finish("failed", str(exc))
            except Exception as exc:  # a bug: keep the app alive, log the traceback for the report
                log.exception("job %s failed", self.key)
                self._finish("failed", f"{type(exc).__name__}: {exc}")
            else:
                with self._lock:
                    self.result = result
                self._finish("stopped" if self._stop.is_set() else "finished")

    def _finish(self, status: str, error: str | None = None) -> None:
        with self._lock:
            self.status, self.error = status, error

    # -- called from the pages --------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work has ended, or at most ``timeout`` seconds; True when it has ended.

        For scripts and tests: a page never blocks on a job, it polls ``snapshot()``.
        """
        self._thread.join(timeout)
        return not self.live

    def snapshot(self) -> dict:
        """A consistent copy of the progress: status, error, stage, losses, val_top1, last, result."""
        with self._lock:
            return {"key": self.key, "label": self.label, "out_dir": str(self.out_dir), "meta": self.meta,
                    "status": self.status,
                    "error": self.error, "stage": self.stage, "losses": list(self.losses),
                    "val_top1": list(self.val_top1), "last": dict(self.last) if self.last else None,
                    "result": self.result, "elapsed_s": time.time() - self.started}


def _check_free(out_dir: Path, key: str | None) -> None:
    target = str(Path(out_dir).resolve()).casefold()  # as run names: one folder on case-insensitive disks
    other = next((j for j in _JOBS.values() if j.live and j.key != key
                  and str(j.out_dir.resolve()).casefold() == target), None)
    if other is not None:
        raise DinaError(f"run name {Path(out_dir).name!r}: the {other.status} job '{other.label}' will write "
                        "that folder; choose another name")


def check_free(out_dir: Path, key: str | None = None) -> None:
    """Refuse ``out_dir`` while another live job (queued or running, of another key) will write it: a queued
    training has no folder yet, so only this says at submit that its name is taken.

    Raises:
        DinaError: naming the folder and the job.
    """
    with _REGISTRY_LOCK:
        _check_free(out_dir, key)


def start(key: str, label: str, out_dir: Path, work: Callable[[Job], dict | None], meta: dict | None = None,
          exclusive: bool = False) -> Job:
    """Start ``work(job)`` in a thread under ``key``, unless a job of that key is still live.

    ``exclusive``: refuse (DinaError, see ``check_free``) when another live job will write ``out_dir``; checked
    and registered under one lock, so two sessions submitting one name at once cannot both be queued.
    """
    with _REGISTRY_LOCK:
        job = _JOBS.get(key)
        if job is not None and job.live:
            return job
        if exclusive:
            _check_free(out_dir, key)
        job = _JOBS[key] = Job(key, label, out_dir, work, meta)
        job._thread.start()
        return job


def get(key: str) -> Job | None:
    with _REGISTRY_LOCK:
        return _JOBS.get(key)


def live_out_dirs() -> set[str]:
    """Folders that a live job is writing (never delete these)."""
    with _REGISTRY_LOCK:
        return {str(j.out_dir) for j in _JOBS.values() if j.live}


def start_training(key: str, label: str, data, out_dir: Path, train_config, kind: str = "dina",
                   model_config: dict | None = None, metadata: dict | None = None, resume: bool = False,
                   overwrite: bool = False) -> Job:
    """Start training a run into ``out_dir`` (``dina_core.train.run.train_run``) under ``key`` (see ``start_fit``)."""
    def fit(job: Job) -> tuple:
        from dina_core.train.run import train_run
        return train_run(data, out_dir, kind=kind, model_config=model_config, train_config=train_config,
                         metadata=metadata, resume=resume, overwrite=overwrite, on_step=job.on_step,
                         should_stop=job.should_stop)
    return start_fit(key, label, out_dir, train_config, fit)


def start_fit(key: str, label: str, out_dir: Path, train_config, fit: Callable[[Job], tuple]) -> Job:
    """Start ``fit(job)`` under ``key`` (see ``start``): a training into ``out_dir`` (``train_run``, ``train_from``,
    ``train_joint``) that reports to ``job.on_step``, polls ``job.should_stop``, returns (Run or JointRun, FitResult).

    The job's meta names the epoch count and the device, shown beside its progress; its result is
    {best_val_top1, best_epoch, interrupted, stopped_early}.

    Raises:
        DinaError: ``train_config.device`` names a device this machine lacks (``DeviceError``, before any thread
            starts), or another live job will write ``out_dir`` (``check_free``).
    """
    from dina_core.model.device import resolve_device  # torch: only once a training starts

    def work(job: Job) -> dict:
        from dina_core.train.run import NothingTrainedError
        try:
            run, result = fit(job)
        except NothingTrainedError:  # the user stopped it in its first epoch: stopped, nothing saved
            raise Stopped from None
        return {"best_val_top1": run.metadata["best_val_top1"], "best_epoch": result.best_epoch,
                "interrupted": result.interrupted, "stopped_early": result.stopped_early}

    meta = {"epochs": train_config.epochs, "device": str(resolve_device(train_config.device))}
    return start(key, label, out_dir, work, meta, exclusive=True)


def benchmark_work(data, out_dir: Path, models: tuple[str, ...], train_config) -> Callable[[Job], dict]:
    """Work that runs ``dina_core.benchmark.run_benchmark`` for ``models`` into ``out_dir``."""
    def work(job: Job) -> dict:
        from dina_core.benchmark import run_benchmark
        return run_benchmark(data, out_dir, train_config=train_config, models=models,
                             on_step=lambda _name, info: job.on_step(info), on_model=job.set_stage)
    return work


def tune_work(data, out_dir: Path, budget_s: float, metadata: dict | None = None) -> Callable[[Job], dict]:
    """Work that runs ``dina_core.tune.tune`` into ``out_dir``; each trial is a stage of the job's progress."""
    def work(job: Job) -> dict:
        from dina_core.tune import tune
        return tune(data, out_dir, budget_s=budget_s, metadata=metadata, should_stop=job.should_stop,
                    on_start=lambda i, change: job.set_stage(f"trial {i + 1}: {change or 'defaults'}"),
                    on_step=job.on_step)
    return work


def import_work(source, out_path: Path, config) -> Callable[[Job], dict]:
    """Work that writes a raw ``source`` preprocessed with ``config`` to ``out_path`` (``write_source``)."""
    def work(job: Job) -> dict:
        from dina_core.importers.traces.source import write_source
        return {"path": str(write_source(source, out_path, config, progress=job.on_progress))}
    return work
