"""Time the Sensorium importer on a folder the size of a real recording.

Writes a 6,000-trial x 5,000-neuron static folder (36x64 images) in a temporary
directory, imports it, then times a full validation and a read of the result.

Usage: python bench/bench_sensorium_import.py [--trials 6000] [--neurons 5000] [--zip]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable without installing the package
from dina_core.data.io import read_dataset, validate_dataset  # noqa: E402
from dina_core.importers.sensorium import import_sensorium  # noqa: E402
from dina_core.simulate.sensorium_folder import write_sensorium_folder, zip_folder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6000)
    parser.add_argument("--neurons", type=int, default=5000)
    parser.add_argument("--zip", action="store_true", help="import from a .zip instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        src = write_sensorium_folder(Path(tmp), args.trials, args.neurons, (36, 64),
                                     n_test_images=100, n_final_images=100, repeats=10,
                                     rng=np.random.default_rng(0))
        if args.zip:
            src = zip_folder(src, Path(tmp) / "static.zip")
        print(f"fixture written in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        out = import_sensorium(src, Path(tmp) / "out.h5")
        seconds = time.perf_counter() - start
        print(f"import ({'zip' if args.zip else 'folder'}) of {args.trials} trials x "
              f"{args.neurons} neurons: {seconds:.1f} s ({args.trials / seconds:.0f} trials/s), "
              f"validated read-back included")
        start = time.perf_counter()
        validate_dataset(out)
        print(f"validate_dataset: {time.perf_counter() - start:.2f} s")
        start = time.perf_counter()
        read_dataset(out)
        print(f"read_dataset: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
