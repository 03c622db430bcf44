"""How interactive is the import wizard's preview on a recording of real size?

Writes a synthetic suite2p session (default 5,000 ROIs x 30 min at 30 Hz, F and Fneu as
float32 on disk, ~2.2 GB; a stimulus table of 3,600 presentations with 100 test images x 10
repeats) and times, in one process:

* reading the source (memory-mapped traces, table, images);
* reading the preview's sample of neurons (once per source and signal);
* one preview per parameter change (the wizard's rerun), for several settings (3 runs each;
  the median is compared);
* the full import of every neuron with the default settings: the baseline the preview is
  compared against.

Run: ``python bench/bench_import_preview.py [--neurons 5000 --minutes 30 --sample 200]``.
"""

from __future__ import annotations

import argparse
import csv
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

from dina_core.importers.suite2p import read_suite2p_source
from dina_core.importers.traces import TraceConfig
from dina_core.importers.traces.preview import preview_kinds, preview_source, sample_source
from dina_core.importers.traces.source import write_source

FS = 30.0


def write_session(folder: Path, n_rois: int, n_frames: int, seed: int = 0) -> None:
    """A suite2p plane with noisy traces whose neurons answer some images, plus table and images."""
    rng = np.random.default_rng(seed)
    plane = folder / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    onsets = np.arange(60, n_frames - 60, 15)[:3600]
    n_test = min(100, onsets.size // 20)  # 100 test images x 10 repeats when the session is long enough
    test = np.repeat(np.arange(n_test), 10)
    image_ids = np.concatenate([test, n_test + np.arange(onsets.size - test.size)])
    rng.shuffle(image_ids)
    tiers = np.where(image_ids < n_test, "test", np.where(image_ids % 10 == 0, "validation", "train"))
    f = np.lib.format.open_memmap(plane / "F.npy", "w+", np.float32, (n_rois, n_frames))
    fneu = np.lib.format.open_memmap(plane / "Fneu.npy", "w+", np.float32, (n_rois, n_frames))
    kernel = np.exp(-np.arange(30) / (0.4 * FS))
    for lo in range(0, n_rois, 250):
        hi = min(lo + 250, n_rois)
        drive = np.zeros((hi - lo, n_frames), np.float32)
        gains = rng.gamma(0.5, 1.0, (hi - lo, image_ids.max() + 1)).astype(np.float32)
        drive[:, onsets + 3] = gains[:, image_ids]
        calcium = np.apply_along_axis(lambda d: np.convolve(d, kernel)[:n_frames], 1, drive)
        neuropil = 50 + rng.normal(0, 1, (hi - lo, n_frames)).astype(np.float32)
        f[lo:hi] = 100 + 20 * calcium + 0.7 * neuropil + rng.normal(0, 5, (hi - lo, n_frames))
        fneu[lo:hi] = neuropil
    f.flush(), fneu.flush()
    np.save(plane / "iscell.npy", np.column_stack([np.ones(n_rois), np.full(n_rois, 0.9)]))
    stat = np.empty(n_rois, dtype=object)
    stat[:] = [{"med": [int(y), int(x)]} for y, x in rng.integers(0, 512, (n_rois, 2))]
    np.save(plane / "stat.npy", stat, allow_pickle=True)
    with open(plane / "ops.npy", "wb") as handle:
        np.save(handle, np.array({"fs": FS}, dtype=object), allow_pickle=True)
    with open(folder / "stimulus_table.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["onset_frame", "image_id", "tier"])
        writer.writerows(zip(onsets.tolist(), image_ids.tolist(), tiers.tolist()))
    np.save(folder / "images.npy", rng.uniform(0, 255, (image_ids.max() + 1, 36, 64)).astype(np.float32))


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    print(f"{label:<58s} {seconds:8.2f} s", flush=True)
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample", type=int, default=200, help="neurons in the preview")
    args = parser.parse_args()
    n_frames = int(args.minutes * 60 * FS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"session: {args.neurons:,} ROIs x {n_frames:,} frames ({args.minutes:g} min at {FS:g} Hz), "
              f"{2 * 4 * args.neurons * n_frames / 1e9:.1f} GB of F + Fneu", flush=True)
        timed("write the synthetic session", lambda: write_session(folder, args.neurons, n_frames))
        source, _ = timed("read the source (memory-mapped)", lambda: read_suite2p_source(
            folder / "suite2p", stimuli=folder / "stimulus_table.csv", images=folder / "images.npy"))
        default = TraceConfig()
        (sample, neurons), _ = timed(f"read the sample ({args.sample} neurons)",
                                     lambda: sample_source(source, args.sample, preview_kinds(source, default)))
        print(f"sample in memory: {sum(a.nbytes for a in vars(sample.recording.planes[0]).values() if isinstance(a, np.ndarray) and a.ndim == 2) / 1e6:.0f} MB; "
              f"a preview result pickles to "
              f"{len(pickle.dumps(preview_source(sample, neurons, default, n_total=source.recording.n_neurons))) / 1e6:.1f} MB")
        settings = {"default (percentile F0, 60 s)": default,
                    "maximin F0": TraceConfig(baseline_method="maximin"),
                    "response window 0.2-1.0 s": TraceConfig(response_window_s=(0.2, 1.0)),
                    "Savitzky-Golay denoising": TraceConfig(denoise="savgol")}
        preview_s = {}
        for label, config in settings.items():  # the first call of a setting may import scipy modules
            runs = [timed(f"preview: {label}", lambda c=config: preview_source(
                sample, neurons, c, n_total=source.recording.n_neurons))[1] for _ in range(3)]
            preview_s[label] = float(np.median(runs))
        _, full_s = timed(f"baseline: full import of {args.neurons:,} neurons (default)",
                          lambda: write_source(source, folder / "out.h5", default))
        print(f"\nfull import / default preview = {full_s / preview_s['default (percentile F0, 60 s)']:.0f}x; "
              f"preview share of neurons {args.sample / args.neurons:.1%}")


if __name__ == "__main__":
    main()
