"""Terminal progress bars (tqdm) driven by the core's callbacks: ``fit``'s StepInfo and ``Progress`` stages."""

from __future__ import annotations

from tqdm import tqdm


def step_bar(desc: str):
    """(bar, on_step): a tqdm bar and the ``fit`` StepInfo callback that drives it."""
    bar = tqdm(total=None, desc=desc, unit="step", dynamic_ncols=True)

    def on_step(info) -> None:
        bar.total = info.total_steps
        bar.n = info.step
        postfix = {"epoch": info.epoch, "loss": f"{info.loss:.3f}"}
        if info.val_top1 is not None:
            postfix["val_top1"] = f"{info.val_top1:.3f}"
        bar.set_postfix(postfix, refresh=True)

    return bar, on_step


class StageBars:
    """One tqdm bar per named stage, driven by the core's ``progress(done, total, stage)`` callbacks."""

    def __init__(self, unit: str = "step"):
        self.unit, self.bars = unit, {}

    def __call__(self, done: int, total: int, stage: str) -> None:
        if stage not in self.bars:
            self.bars[stage] = tqdm(total=total, desc=stage, unit=self.unit)
        self.bars[stage].n = done
        self.bars[stage].refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
