"""Data-parallel scaling: epoch time of the same training under torchrun with 1, 2, ... processes.

    python bench/bench_ddp.py [--procs 1 2] [--size small|demo] [--epochs 3] [--batch-size 256] [--device cpu]

Each setting runs ``torchrun --standalone --nproc_per_node P -m dina_core.cli train`` on the
same simulated recording and global batch, and reports the median epoch time (validation
included) from the run's history, and its ratio to the first setting. On a GPU box pass
``--device cuda --procs 1 2 4 8`` (one process per GPU). On CPU each process gets
``cores / P`` threads, so the figure shows the cost of the gathers and all-reduces, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from dina_core.data.format import write_dataset
from dina_core.simulate import DEMO_CONFIG, SimConfig, simulate_recording


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--size", choices=("small", "demo"), default="small")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rec.h5"
        write_dataset(data, simulate_recording(DEMO_CONFIG if args.size == "demo" else SimConfig.small()))
        baseline = None
        print(f"{args.size} recording, global batch {args.batch_size}, {args.epochs} epochs on {args.device}")
        for procs in args.procs:
            out = Path(tmp) / f"run{procs}"
            threads = max(1, (os.cpu_count() or 1) // procs)
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
                   "-m", "dina_core.cli", "train", str(data), "--out", str(out), "--epochs", str(args.epochs),
                   "--batch-size", str(args.batch_size), "--device", args.device]
            subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
            history = json.loads((out / "run.json").read_text())["history"]
            epoch_s = statistics.median(row["seconds"] for row in history)
            baseline = baseline or epoch_s
            print(f"{procs} process(es), {threads} thread(s) each: median epoch {epoch_s:6.2f} s "
                  f"({baseline / epoch_s:4.2f}x the first setting's speed)", flush=True)


if __name__ == "__main__":
    main()
