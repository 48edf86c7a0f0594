"""What a run tells the person watching it: a start line, then a bar on a terminal or lines in a log.

On a terminal (``progress="auto"``, or ``"on"``) a tqdm bar moves every step and shows the latest
losses. Elsewhere (a log file, a CI job, ``nohup``) ``"auto"`` prints a plain line at the first log
step and then at most every ``LINE_SECONDS``, so a long run is never silent. ``"off"`` prints nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

LINE_SECONDS = 30.0  # least time between two progress lines when not on a terminal
HIDDEN = ("step", "time", "train_seconds", "peak_rss_mb", "peak_cuda_mb")  # kept out of bar and lines


class Progress:
    """The progress display of one ``Trainer.run`` call, on the main process only."""

    def __init__(self, mode: str, *, enabled: bool, start: int, until: int, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.start, self.until = start, until
        self.enabled = enabled and mode != "off"
        self.bar = None
        self.lines = False
        if self.enabled and (mode == "on" or self.stream.isatty()):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=until, initial=start, unit="step", dynamic_ncols=True, file=self.stream)
        elif self.enabled:
            self.lines = True
        self._clock = time.perf_counter()
        self._last_line: float | None = None

    def say(self, text: str) -> None:
        """One line for the person watching (start, resume, finish), above the bar when there is one."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def step(self, iteration: int) -> None:
        if self.bar is not None:
            self.bar.update(iteration - self.bar.n)

    def logged(self, iteration: int, record: dict[str, Any]) -> None:
        """A metrics line was written: show its values on the bar, or print a line when one is due."""
        values = {k: v for k, v in record.items() if k not in HIDDEN and isinstance(v, (int, float))}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}, refresh=False)
            return
        now = time.perf_counter()
        if not self.lines or (self._last_line is not None and now - self._last_line < LINE_SECONDS):
            return
        self._last_line = now
        self.say(self._line(iteration, values, now))

    def _line(self, iteration: int, values: dict[str, float], now: float) -> str:
        done = iteration - self.start
        elapsed = now - self._clock
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.until - iteration) / rate if rate > 0 else float("nan")
        shown = "  ".join(f"{k} {v:.3g}" for k, v in values.items())
        return (
            f"step {iteration}/{self.until} ({100 * iteration / max(self.until, 1):.0f}%)  {shown}  "
            f"{rate:.2f} steps/s  eta {_duration(eta)}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    if seconds != seconds:  # NaN: no rate yet
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
