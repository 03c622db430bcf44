"""Full-page screenshots of every DINA Studio page, normal and presentation mode, at projector sizes.

    python bench/screenshots.py [--size demo|small] [--sizes 1280x720,1920x1080] [--pages Retrieval,Neurons]
                                [--work DIR] [--out DIR] [--epochs 3] [--no-baselines]

Writes ``OUT/{normal|presentation}-{W}x{H}/{n}-{page}.png`` (default ``test-artifacts/screens``, git-ignored)
to be looked at, and prints what a script can catch by itself on each page:

* ``narrow``: a figure narrower than half the content width, or whose plot area is under half of its figure;
* ``legend``: a legend box that overlaps a plot area (it hides curves);
* ``clipped``: a widget or label whose content is wider than its box (cut off, or ending in "...").

It also shoots a few states beyond each page's defaults (``EXTRAS``: single-trial image queries, four
attribution methods, the probe comparison grid, noise correlations), and builds the HTML report once
(``--no-report`` skips it) and shoots it as a reader opens it.

The recording (``--size``: the documented demo, or the tests' small one) and a short run trained on it are
kept in ``--work`` (default ``test-artifacts/screens/work``) and reused by the next call; ``--no-baselines``
skips the fast baselines (linear + ridge) that the Retrieval page and the report draw beside DINA. Needs
Debian's chromium and the playwright package. The screenshots are taller than the window: the window is
resized to the page's height for the shot, its width (what the layout depends on) stays.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from the repository root

from dina_app.browser import IDLE, PAGES, launch, settle, studio_server, visit  # noqa: E402

SCROLLER = "[data-testid=stMain]"  # Streamlit scrolls its main area, not the document
LAYOUT_CHECKS = """() => {
  const content = document.querySelector('[data-testid=stMainBlockContainer]');
  const pad = getComputedStyle(content);
  const width = content.clientWidth - parseFloat(pad.paddingLeft) - parseFloat(pad.paddingRight);
  const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const problems = [];
  document.querySelectorAll('[data-testid=stPlotlyChart]').forEach((chart, i) => {
    const box = chart.getBoundingClientRect();
    if (box.width === 0) return;  // in a tab that is not shown
    const areas = [...chart.querySelectorAll('.nsewdrag')].map(e => e.getBoundingClientRect());
    const title = chart.querySelector('.gtitle');
    const name = `figure ${i + 1}` + (title ? ` (${title.textContent})` : '');
    if (box.width < 0.5 * width - 40)
      problems.push(`narrow: ${name} is ${Math.round(box.width)} px of ${Math.round(width)} px content`);
    const plotted = Math.max(0, ...areas.map(a => a.right)) - Math.min(...areas.map(a => a.left));
    const layout = (chart.querySelector('.js-plotly-plot') || {})._fullLayout || {};
    const square = Object.keys(layout).some(k => k.startsWith('yaxis') && layout[k].scaleanchor);  // aspect kept:
    if (areas.length && plotted < 0.5 * box.width && !square)  // as wide as its height allows
      problems.push(`narrow: ${name} plot area ${Math.round(plotted)} px of ${Math.round(box.width)} px`);
    const legend = chart.querySelector('g.legend');
    if (legend && areas.some(a => hit(legend.getBoundingClientRect(), a)))
      problems.push(`legend: ${name} legend overlaps its plot area`);
  });
  const skip = 'svg, [data-testid=stPlotlyChart], [data-testid=stDataFrame], [data-testid=stImage]';
  for (const e of document.querySelectorAll('[data-testid=stMain] *')) {
    if (e.closest(skip)) continue;
    const style = getComputedStyle(e);
    const hides = e.tagName === 'INPUT' || style.textOverflow === 'ellipsis'
                  || ['hidden', 'clip'].includes(style.overflowX);
    if (hides && e.clientWidth > 1 && e.scrollWidth > e.clientWidth + 2)  // 1 px: screen-reader-only text
      problems.push(`clipped: "${(e.value || e.innerText || '').trim().replace(/\\s+/g, ' ').slice(0, 60)}" needs `
                    + `${e.scrollWidth} px, has ${e.clientWidth} px`);
  }
  return [...new Set(problems)];
}"""


def _rerun_settled(page) -> None:
    """After an input: wait for the rerun it starts (if it starts at all), then for the page to settle."""
    try:
        page.wait_for_selector("[data-testid=stApp][data-test-script-state=running]", timeout=3000)
    except Exception:  # the rerun was over before we looked, or the input started none
        pass
    settle(page)


def _click(page, text: str) -> None:
    page.locator("[data-testid=stMain]").get_by_text(text, exact=True).first.click()
    _rerun_settled(page)


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the select box or multiselect labelled ``label``."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    _rerun_settled(page)


# States worth a look beyond each page's defaults: (page title, suffix, actions, modes)
EXTRAS = [
    ("Retrieval", "single-trial", lambda page: (_click(page, "single trial"), _click(page, "Image → responses")),
     ("normal", "presentation")),
    ("Attributions", "four-methods", lambda page: (_choose(page, "Methods", "Saliency (gradient)"),
                                                   _choose(page, "Methods", "GradientSHAP")),
     ("normal", "presentation")),
    ("Structure probes", "high-pass-all", lambda page: (_choose(page, "Manipulation", "Fine detail only (high-pass)"),
                                                        _click(page, "Compare every manipulation")), ("normal",)),
    ("Neurons", "noise-correlation", lambda page: _click(page, "noise correlation"), ("normal", "presentation")),
]


def prepare(size: str, work: Path, epochs: int, baselines: bool) -> dict:
    """The recording, a short run and (optionally) the fast baselines under ``work``; the server's environment."""
    from dina_app.analysis import find_benchmark
    from dina_core.benchmark import run_benchmark
    from dina_core.data.fingerprint import data_fingerprint
    from dina_core.data.format import write_dataset
    from dina_core.data.io import read_dataset
    from dina_core.runs.config import TrainConfig
    from dina_core.simulate import DEMO_CONFIG, SimConfig, simulate_recording
    from dina_core.train.run import train_run

    path = work / "demo" / ("demo_small.h5" if size == "small" else "demo.h5")
    if not path.exists():
        write_dataset(path, simulate_recording(SimConfig.small() if size == "small" else DEMO_CONFIG))
    data = read_dataset(path)
    run, runs = work / f"run-{size}", work / "runs"
    if not (run / "model.pt").is_file():
        print(f"training a {epochs}-epoch run on {path.name}…", flush=True)
        train_run(data, run, train_config=TrainConfig(epochs=epochs, patience=100))
    fp = data_fingerprint(data)
    if baselines and find_benchmark(runs.resolve(), fp) is None:
        print("training the fast baselines (linear + ridge)…", flush=True)
        run_benchmark(data, runs / "benchmarks" / fp, models=("linear", "ridge"),
                      train_config=TrainConfig(epochs=epochs, patience=100))
    return {**os.environ, "DINA_DATA_DIR": str(work / "data"), "DINA_RUNS_DIR": str(runs),
            "DINA_DEMO_DIR": str(work / "demo"), "DINA_DEMO_SIZE": size, "DINA_DEMO_RUN": str(run)}


def shoot(page, path: Path, width: int, height: int) -> None:
    """A screenshot of the whole page: the window grows to the main area's height for the shot."""
    full = page.evaluate(f"() => document.querySelector('{SCROLLER}').scrollHeight")
    page.set_viewport_size({"width": width, "height": max(height, int(full))})
    page.wait_for_timeout(500)  # plotly redraws on resize
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": height})


def shoot_report(browser, page, path: Path, width: int, height: int) -> None:
    """Build the HTML report on the Report page, download it and shoot it as a reader opens it (offline)."""
    visit(page, "Report")
    page.get_by_role("button", name="Build the report").click()
    button = page.get_by_role("button", name="Download the HTML report")
    button.wait_for()
    with page.expect_download() as download:
        button.click()
    html = path.with_suffix(".html")
    download.value.save_as(html)
    viewer = browser.new_context(viewport={"width": width, "height": height}, offline=True)
    try:
        report = viewer.new_page()
        report.goto(html.as_uri())
        n = html.read_text().count('class="plotly-graph-div"')
        report.wait_for_function(f"() => document.querySelectorAll('.plotly-graph-div .main-svg').length >= {n}",
                                 timeout=600_000)
        report.screenshot(path=str(path), full_page=True)
        print(f"{'report':>12} {width}x{height} {n} figures -> {path.name}", flush=True)
    finally:
        viewer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("demo", "small"), default="demo", help="simulated recording")
    parser.add_argument("--sizes", default="1280x720,1920x1080", help="window sizes, WxH,WxH")
    parser.add_argument("--pages", help="page titles, comma-separated (default: every page)")
    parser.add_argument("--modes", default="normal,presentation")
    parser.add_argument("--work", type=Path, default=ROOT / "test-artifacts" / "screens" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "screens")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the short run (layout, not accuracy)")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--no-report", action="store_true", help="skip building and shooting the HTML report")
    parser.add_argument("--no-extras", action="store_true", help="only each page's default state (see EXTRAS)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    env = prepare(args.size, args.work.resolve(), args.epochs, not args.no_baselines)
    wanted = set(args.pages.split(",")) if args.pages else {title for title, _ in PAGES}
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    found, report = 0, "Report" in wanted and not args.no_report
    with sync_playwright() as p, studio_server(env) as url:
        browser = launch(p)
        try:
            for width, height in sizes:
                for mode in args.modes.split(","):
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.set_default_timeout(600_000)
                    page.goto(url)  # the root first (see app.py)
                    page.locator("[data-testid=stMain] h1", has_text="Data").wait_for()
                    settle(page)
                    if mode == "presentation":
                        page.locator("[data-testid=stSidebar] label", has_text="Presentation mode").click()
                        page.wait_for_selector(IDLE)
                    for i, (title, name) in enumerate(PAGES):
                        if title not in wanted:
                            continue
                        visit(page, title)
                        problems = page.evaluate(LAYOUT_CHECKS)
                        if page.locator("[data-testid=stException]").count():
                            problems.append("exception: the page shows a traceback")
                        shots = [(f"{i + 1}-{name}", problems)]
                        shoot(page, args.out / f"{mode}-{width}x{height}" / f"{i + 1}-{name}.png", width, height)
                        for _, suffix, act, modes in (e for e in EXTRAS if e[0] == title and not args.no_extras):
                            if mode in modes:
                                try:
                                    act(page)
                                except Exception as exc:  # a control that moved: report it, shoot the rest
                                    shots.append((f"{i + 1}-{name}-{suffix}", [f"extra failed: {exc!r}"[:300]]))
                                    continue
                                shots.append((f"{i + 1}-{name}-{suffix}", page.evaluate(LAYOUT_CHECKS)))
                                shoot(page, args.out / f"{mode}-{width}x{height}" / f"{shots[-1][0]}.png", width,
                                      height)
                        for shot, problems in shots:
                            found += len(problems)
                            print(f"{mode:>12} {width}x{height} {shot:<32} " + ("ok" if not problems else
                                  "\n" + "\n".join(f"    {p}" for p in problems)), flush=True)
                    if report and mode == "normal":
                        shoot_report(browser, page, args.out / f"report-{width}x{height}.png", width, height)
                        report = False
                    page.close()
        finally:
            browser.close()
    print(f"\n{found} problem(s); screenshots under {args.out}")


if __name__ == "__main__":
    main()
