"""Progress of long commands on standard error: one updating bar on a terminal, lines otherwise.

::

    with Progress(label="hindcast") as progress:
        run_backtest(config, start, end, progress=progress)  # message callback: open-ended
        with progress.counted(len(days), "bulletins"):
            for day in days:
                ...
                progress(f"{day:%Y-%m-%d}")                   # one step of the counted phase

On a terminal (the stream's ``isatty()``) the current step is one line redrawn in place with
``\\r`` (at most every ``min_interval`` seconds, and always for the last step)::

    bulletins [#########---------------]  12/30  40%  0:05 elapsed  ETA 0:08  2016-01-12

and the line is ended with a newline when the phase or the reporter closes. Elsewhere (CI logs,
pipes, files) every step is one plain line::

      … bulletins 12/30 (0:05 elapsed, ETA 0:08): 2016-01-12

Without a total (an open-ended phase: the message callbacks of :mod:`models.backtest` and
:mod:`models.training`) a step shows its count and the elapsed time; the plain line is the
message alone (``  … message``), as the commands printed before.

A :class:`Progress` is the ``progress: Callable[[str], None]`` of the engine's functions, so
callers that pass a plain function (``print``, a logger) keep working; :func:`counted` gives a
per-step callable for either.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "counted", "format_duration"]


def format_duration(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a duration in seconds; ``--:--`` when unknown."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # noqa: PLR0124 - NaN check
        return "--:--"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class Progress:
    """A progress reporter: a bar on a terminal, one line per step otherwise.

    ``total``: the number of steps of the first phase (None: open-ended). ``stream``: default
    ``sys.stderr`` (at construction). ``tty``: force the mode (default: ``stream.isatty()``).
    ``enabled=False`` makes every call a no-op (e.g. ``--json`` output). ``clock`` and
    ``columns`` (the terminal width; default: the terminal's) are for tests.
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        label: str = "",
        stream: TextIO | None = None,
        tty: bool | None = None,
        enabled: bool = True,
        prefix: str = "  … ",
        bar_width: int = 24,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        columns: int | None = None,
    ) -> None:
        if total is not None and total < 0:
            raise ValueError(f"progress total must be ≥ 0 or None, got {total}")
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.enabled = enabled
        self.prefix = prefix
        self.bar_width = bar_width
        self.min_interval = min_interval
        self.columns = columns
        self._clock = clock
        self._base_label = label
        self.label = label
        self.total = total
        self.count = 0
        self.message = ""
        self._start = clock()
        self._last_draw: float | None = None
        self._visible = 0  # characters of the bar line now on the terminal (0: none)
        self._pending = False  # a step not yet drawn (throttled)
        self.closed = False

    # ---- the message-callback style ---------------------------------------------------------
    def __call__(self, message: str) -> None:
        """One step with ``message``: the ``Callable[[str], None]`` the engine's functions take."""
        self.step(message)

    def step(self, message: str = "", n: int = 1) -> None:
        """Advance by ``n`` steps and show ``message`` with the count."""
        if not self.enabled or self.closed:
            return
        self.count += n
        self.message = message
        if self.tty:
            self._draw(force=self.total is not None and self.count >= self.total)
        else:
            self._write(self._plain_line() + "\n")

    # ---- phases -----------------------------------------------------------------------------
    @contextmanager
    def counted(self, total: int, label: str | None = None) -> Iterator[Progress]:
        """A phase of ``total`` steps (a bar with a count, a percentage and an ETA).

        The current line is finished first; when the phase ends its final state stays on the
        terminal and the reporter is open-ended again (label as constructed, count 0).
        """
        if total < 0:
            raise ValueError(f"progress total must be ≥ 0, got {total}")
        self._finish_line()
        self._reset(total, self._base_label if label is None else label)
        try:
            yield self
        finally:
            self._finish_line()
            self._reset(None, self._base_label)

    # ---- terminal housekeeping --------------------------------------------------------------
    def clear(self) -> None:
        """Erase the bar from the terminal so that other output can be printed; the next step
        draws it again. Nothing to do for plain lines."""
        if self.enabled and self.tty and self._visible:
            self._write("\r" + " " * self._visible + "\r")
            self._visible = 0
            self._pending = True

    def close(self) -> None:
        """Show the final state and end the line (terminal). Idempotent."""
        if self.closed:
            return
        self._finish_line()
        self.closed = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- text -------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self._clock() - self._start

    def eta(self, elapsed: float | None = None) -> float:
        """Seconds left at the mean pace so far (NaN without a total or before the first step)."""
        if self.total is None or self.count <= 0:
            return float("nan")
        elapsed = self.elapsed() if elapsed is None else elapsed
        return max(elapsed / self.count * (self.total - self.count), 0.0)

    def bar_line(self) -> str:
        """The text of the terminal bar for the current state (without ``\\r``)."""
        label = f"{self.label} " if self.label else ""
        seconds = self.elapsed()
        elapsed = format_duration(seconds)
        if self.total is None:
            text = f"{label}[step {self.count}]  {elapsed} elapsed"
        else:
            done = min(self.count / self.total, 1.0) if self.total else 1.0
            filled = round(done * self.bar_width)
            bar = "#" * filled + "-" * (self.bar_width - filled)
            width = len(str(self.total))
            text = (
                f"{label}[{bar}] {self.count:>{width}}/{self.total}  {round(done * 100):3d}%  "
                f"{elapsed} elapsed  ETA {format_duration(self.eta(seconds))}"
            )
        if self.message:
            text += f"  {self.message}"
        columns = self.columns or shutil.get_terminal_size(fallback=(100, 24)).columns
        return text[: max(columns - 1, 20)]

    def _plain_line(self) -> str:
        if self.total is None:
            return f"{self.prefix}{self.message or f'{self.label} step {self.count}'.strip()}"
        label = f"{self.label} " if self.label else ""
        seconds = self.elapsed()
        text = (
            f"{self.prefix}{label}{self.count}/{self.total} ({format_duration(seconds)} "
            f"elapsed, ETA {format_duration(self.eta(seconds))})"
        )
        return text + (f": {self.message}" if self.message else "")

    # ---- internals --------------------------------------------------------------------------
    def _reset(self, total: int | None, label: str) -> None:
        self.total, self.label, self.count, self.message = total, label, 0, ""
        self._start = self._clock()
        self._last_draw = None
        self._pending = False

    def _draw(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and self._last_draw is not None and now - self._last_draw < self.min_interval:
            self._pending = True
            return
        text = self.bar_line()
        pad = " " * max(self._visible - len(text), 0)
        self._write("\r" + text + pad)
        self._visible = len(text)
        self._last_draw = now
        self._pending = False

    def _finish_line(self) -> None:
        if not (self.enabled and self.tty) or self.closed:
            return
        if self._pending:
            self._draw(force=True)
        if self._visible:
            self._write("\n")
        self._visible = 0
        self._pending = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


@contextmanager
def counted(
    progress: Callable[[str], None] | None, total: int, label: str
) -> Iterator[Callable[[str], None]]:
    """A per-step callable for a loop of ``total`` steps reported through ``progress``.

    A :class:`Progress` draws a counted phase (bar or lines); a plain callback gets one
    message per step, ``"<label> <i>/<total>: <message>"``; None reports nothing.
    """
    if isinstance(progress, Progress):
        with progress.counted(total, label) as bar:
            yield bar
        return
    if progress is None:
        yield lambda _message: None
        return
    say = progress
    count = 0

    def step(message: str) -> None:
        nonlocal count
        count += 1
        say(f"{label} {count}/{total}" + (f": {message}" if message else ""))

    yield step
