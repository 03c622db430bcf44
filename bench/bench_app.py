"""DINA Studio responsiveness: cold start, page switches, the pruning slider.

    python bench/bench_app.py [--size small|demo] [--run RUN_DIR] [--cold 3] [--rounds 3] [--moves 10]
                              [--baseline GIT_REF] [--read-s SECONDS]

* cold start: `streamlit run app.py` launched -> first page (Data) fully drawn in Chromium, a fresh
  server each time (caches empty; Python's own file caches warm after the first);
* page switch: sidebar click -> the page's script done and every figure drawn, warm server;
* pruning: a slider key press -> the new "Top-1 with k neurons" text in the browser (one fragment
  rerun + websocket + render); the server's share measured in-process (AppTest rerun of the whole
  Neurons page, and ``MaskedEvaluator.top1`` alone).

Needs Debian's chromium and the playwright package. Without --run, a short run is trained first
(small) or the demo's quick model is required (demo: pass --run).

``--baseline REF`` measures a checkout of REF (``git worktree add``, removed afterwards) in the same run,
before the current tree, with the same recording and run; for checkouts that match runs by content
fingerprint only, the run is given this machine's fingerprint in a copy. ``--read-s`` waits that long
on the Data page before the first page switch (a user reading it; background warm-ups get the time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from dina_app.browser import APP, PAGES, launch, settle, studio_server, visit


def _t(seconds: float) -> str:
    return f"{seconds:6.2f} s" if seconds >= 0.1 else f"{1000 * seconds:5.1f} ms"


def summary(name: str, seconds: list[float]) -> None:
    print(f"{name:<40} median {_t(statistics.median(seconds))}   min {_t(min(seconds))}   "
          f"max {_t(max(seconds))}   (n={len(seconds)})")


def prepare(args, root: Path) -> dict:
    """Folders, demo recording and run; returns the server's environment."""
    from dina_core.data.format import write_dataset
    from dina_core.simulate import DEMO_CONFIG, SimConfig, simulate_recording
    from dina_core.runs.config import TrainConfig
    from dina_core.train.run import train_run

    small = args.size == "small"
    path = root / "demo" / ("demo_small.h5" if small else "demo.h5")
    data = simulate_recording(SimConfig.small() if small else DEMO_CONFIG)
    write_dataset(path, data)
    run = Path(args.run) if args.run else root / "demo_run"
    if not args.run:
        if not small:
            raise SystemExit("--size demo needs --run (a run trained on the demo recording)")
        train_run(data, run, train_config=TrainConfig(epochs=3, batch_size=64, patience=100))
    return {**os.environ, "DINA_DATA_DIR": str(root / "data"), "DINA_RUNS_DIR": str(root / "runs"),
            "DINA_DEMO_DIR": str(root / "demo"), "DINA_DEMO_SIZE": args.size, "DINA_DEMO_RUN": str(run)}


def measure(browser, env: dict, app: Path, args) -> dict[str, list[float]]:
    """Cold starts and page switches (and, for the current tree, the pruning slider) of one checkout's app."""
    found: dict[str, list[float]] = {"cold start -> Data page drawn": []}
    for _ in range(args.cold):
        started = time.perf_counter()
        with studio_server(env, app=app) as url:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(600_000)
            page.goto(url)
            page.locator("[data-testid=stMain] h1", has_text="Data").wait_for()
            settle(page)
            found["cold start -> Data page drawn"].append(time.perf_counter() - started)
            print(f"{app}: cold start {found['cold start -> Data page drawn'][-1]:.1f} s", flush=True)
            page.close()

    with studio_server(env, app=app) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.set_default_timeout(600_000)
        page.goto(url)
        settle(page)
        time.sleep(args.read_s)
        for _ in range(args.rounds + 1):  # the first round fills the caches: reported apart
            for title, _ in PAGES:
                started = time.perf_counter()
                visit(page, title)
                found.setdefault(title, []).append(time.perf_counter() - started)
        if app == APP and args.moves:
            visit(page, "Neurons")
            slider = page.get_by_role("slider", name="Neurons kept (k)")
            k = int(slider.get_attribute("aria-valuetext"))
            for i in range(args.moves):
                slider.focus()
                started = time.perf_counter()
                slider.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                k += 1 if i % 2 == 0 else -1
                page.get_by_text(f"Top-1 with {k} neurons:").wait_for()
                found.setdefault("pruning slider: key press -> new text", []).append(time.perf_counter() - started)
    return found


def baseline_checkout(ref: str, root: Path, env: dict) -> tuple[Path, dict]:
    """A worktree of ``ref`` and its server environment (the run given this machine's data fingerprint)."""
    from dina_core.data.fingerprint import data_fingerprint
    from dina_core.data.io import read_dataset

    tree = root / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=APP.parent, check=True,
                   capture_output=True)
    run = root / "baseline_run"
    shutil.copytree(env["DINA_DEMO_RUN"], run)
    info = json.loads((run / "run.json").read_text())
    info["metadata"]["data_fingerprint"] = data_fingerprint(read_dataset(next(Path(env["DINA_DEMO_DIR"]).glob("*.h5"))))
    (run / "run.json").write_text(json.dumps(info))
    return tree / "app.py", {**env, "DINA_DEMO_RUN": str(run), "DINA_RUNS_DIR": str(root / "baseline_runs"),
                             "PYTHONPATH": str(tree)}


def report(name: str, found: dict[str, list[float]]) -> None:
    print(f"\n{name}")
    for what, times in found.items():
        if what in dict(PAGES):
            then = statistics.median(times[1:])
            print(f"{'page switch to ' + what:<40} first  {_t(times[0])}   then median {_t(then)}   (n={len(times) - 1})")
        else:
            summary(what, times)
    warm = [statistics.median(times[1:]) for what, times in found.items() if what in dict(PAGES)]
    print(f"{'warm page switches, median of medians':<40} {_t(statistics.median(warm))}   slowest {_t(max(warm))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "demo"), default="small")
    parser.add_argument("--run", help="run folder trained on the demo recording of --size")
    parser.add_argument("--cold", type=int, default=3, help="cold starts")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all pages")
    parser.add_argument("--moves", type=int, default=10, help="pruning slider moves")
    parser.add_argument("--baseline", help="a git ref to measure first, in the same run (e.g. the last merge)")
    parser.add_argument("--read-s", type=float, default=0.0, help="seconds on the Data page before switching")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        env = prepare(args, Path(tmp))
        versions = {}
        if args.baseline:
            base_app, base_env = baseline_checkout(args.baseline, Path(tmp), env)
        browser = launch(p)
        try:
            if args.baseline:
                versions[f"baseline {args.baseline}"] = measure(browser, base_env, base_app, args)
            versions["this tree"] = measure(browser, env, APP, args)
        finally:
            browser.close()
            if args.baseline:
                subprocess.run(["git", "worktree", "remove", "--force", str(base_app.parent)], cwd=APP.parent)
        server_times, evaluator_times = pruning_server_time(env, args.moves) if args.moves else ([], [])

    print(f"\nDINA Studio on the {args.size}-size simulated recording, {os.cpu_count()} CPUs, "
          f"{args.read_s:g} s on the Data page before the first switch")
    for name, found in versions.items():
        report(name, found)
    if server_times:
        summary("pruning, server: full Neurons rerun", server_times)
        summary("pruning, server: MaskedEvaluator.top1", evaluator_times)


def pruning_server_time(env: dict, moves: int) -> tuple[list[float], list[float]]:
    """In-process: AppTest reruns of the Neurons page for new k, and the evaluator call alone."""
    import numpy as np
    from streamlit.testing.v1 import AppTest

    os.environ.update({k: v for k, v in env.items() if k.startswith("DINA_")})
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.switch_page("pages/neurons.py").run()
    reruns = []
    for i in range(moves):
        started = time.perf_counter()
        at.slider(key="neurons.k").set_value(10 + i).run()
        reruns.append(time.perf_counter() - started)
    from dina_app import cached, state
    data_key = state.file_key(next(Path(env["DINA_DEMO_DIR"]).glob("*.h5")))
    ev = cached.evaluator(state.file_key(Path(env["DINA_DEMO_RUN"]) / "model.pt"), data_key, "averaged")
    mask = np.ones(ev.n_neurons, dtype=np.float32)
    calls = []
    for _ in range(moves):
        started = time.perf_counter()
        ev.top1(mask)
        calls.append(time.perf_counter() - started)
    return reruns, calls


if __name__ == "__main__":
    main()
