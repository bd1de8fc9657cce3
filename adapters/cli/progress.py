"""Progress on the command line's stderr: a bar with its total for the long reads a query
starts by itself (the query engine catching up with the events recorded since it last did).

Invariant: nothing is drawn for work that ends within ``SHOW_AFTER_SECONDS``, nor when stderr
is not a terminal; the library reports progress only to the callback it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

SHOW_AFTER_SECONDS: Final = 2.0
"""A catch-up shorter than this draws nothing (most queries read a few events or none)."""


class LateProgressBar:
    """A ``progress(done, total)`` callback that draws a transient bar on ``console`` once the
    work has lasted ``SHOW_AFTER_SECONDS`` (timed from its first call), and takes it down when
    ``done`` reaches ``total`` or on ``close``."""

    def __init__(
        self,
        console: Console,
        description: str,
        *,
        unit: str = "events",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.description = description
        self.unit = unit
        self._clock = clock
        self._started: float | None = None
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self.shown = False
        """Whether a bar was drawn (for tests)."""

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if self._started is None:
            self._started = now
        if done >= total:
            self.close()
            return
        if self._bar is None:
            if now - self._started < SHOW_AFTER_SECONDS or not self.console.is_terminal:
                return
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._task = self._bar.add_task(self.description, total=total, completed=done)
            self._bar.start()
            self.shown = True
        assert self._task is not None
        self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        """Take the bar down (nothing if none is drawn); the next call starts timing again."""
        if self._bar is not None:
            self._bar.stop()
        self._bar = None
        self._task = None
        self._started = None
