"""DINA Studio responsiveness: cold start, page switches, the pruning slider.

    python bench/bench_app.py [--size small|demo] [--run RUN_DIR] [--cold 3] [--rounds 3] [--moves 10]

* cold start: `streamlit run app.py` launched -> first page (Data) fully drawn in Chromium, a fresh
  server each time (caches empty; Python's own file caches warm after the first);
* page switch: sidebar click -> the page's script done and every figure drawn, warm server;
* pruning: a slider key press -> the new "Top-1 with k neurons" text in the browser (one fragment
  rerun + websocket + render); the server's share measured in-process (AppTest rerun of the whole
  Neurons page, and ``MaskedEvaluator.top1`` alone).

Needs Debian's chromium and the playwright package. Without --run, a short run is trained first
(small) or the demo's quick model is required (demo: pass --run).
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "demo"), default="small")
    parser.add_argument("--run", help="run folder trained on the demo recording of --size")
    parser.add_argument("--cold", type=int, default=3, help="cold starts")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all pages")
    parser.add_argument("--moves", type=int, default=10, help="pruning slider moves")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        env = prepare(args, Path(tmp))
        browser = launch(p)
        try:
            cold = []
            for _ in range(args.cold):
                started = time.perf_counter()
                with studio_server(env) as url:
                    page = browser.new_page(viewport={"width": 1400, "height": 1800})
                    page.set_default_timeout(600_000)
                    page.goto(url)
                    page.locator("[data-testid=stMain] h1", has_text="Data").wait_for()
                    settle(page)
                    cold.append(time.perf_counter() - started)
                    print(f"cold start {cold[-1]:.1f} s", flush=True)
                    page.close()

            with studio_server(env) as url:
                page = browser.new_page(viewport={"width": 1400, "height": 1800})
                page.set_default_timeout(600_000)
                page.goto(url)
                settle(page)
                switches: dict[str, list[float]] = {title: [] for title, _ in PAGES}
                for _ in range(args.rounds + 1):  # the first round fills the caches: reported apart
                    for title, _ in PAGES:
                        started = time.perf_counter()
                        visit(page, title)
                        switches[title].append(time.perf_counter() - started)

                visit(page, "Neurons")
                slider = page.get_by_role("slider", name="Neurons kept (k)")
                moves = []
                k = int(slider.get_attribute("aria-valuetext"))
                for i in range(args.moves):
                    slider.focus()
                    started = time.perf_counter()
                    slider.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                    k += 1 if i % 2 == 0 else -1
                    page.get_by_text(f"Top-1 with {k} neurons:").wait_for()
                    moves.append(time.perf_counter() - started)
        finally:
            browser.close()

        server_times, evaluator_times = pruning_server_time(env, args.moves)

    print(f"\nDINA Studio on the {args.size}-size simulated recording, {os.cpu_count()} CPUs\n")
    summary("cold start -> Data page drawn", cold)
    for title, times in switches.items():
        print(f"{'page switch to ' + title:<40} first  {_t(times[0])}   then median {_t(statistics.median(times[1:]))}"
              f"   (n={len(times) - 1})")
    summary("pruning slider: key press -> new text", moves)
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
