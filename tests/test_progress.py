"""Progress reporting of long commands (forecast/progress.py and its use by the commands)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import ROOT

from forecast.cli import main
from forecast.progress import Progress, counted, format_duration


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    """A clock that advances ``step`` seconds at every reading."""

    def __init__(self, step: float) -> None:
        self.t = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def _frames(text: str) -> list[str]:
    """The successive states of a ``\\r``-redrawn line (padding stripped)."""
    assert text.startswith("\r"), text
    return [f.rstrip() for f in text.rstrip("\n").split("\r")[1:]]


def test_format_duration() -> None:
    assert format_duration(0) == "0:00"
    assert format_duration(65.4) == "1:05"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(float("nan")) == "--:--"


def test_plain_stream_writes_one_line_per_step_with_count_total_and_eta() -> None:
    stream = io.StringIO()
    # The clock is read once at the start and once per step: 2 s per reading.
    with Progress(3, label="days", stream=stream, clock=Clock(2.0)) as progress:
        assert not progress.tty
        for day in ("01-01", "01-02", "01-03"):
            progress(day)
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 3  # one per step, nothing more at close
    for i, line in enumerate(lines, start=1):
        m = re.fullmatch(r"  … days (\d+)/(\d+) \((\S+) elapsed, ETA (\S+)\): 01-0(\d)", line)
        assert m is not None, line
        assert (int(m[1]), int(m[2]), int(m[5])) == (i, 3, i)
    # 2 s per step: after step 1, 2 s elapsed and 2 steps (4 s) left; after step 3, none.
    assert "(0:02 elapsed, ETA 0:04)" in lines[0]
    assert "(0:04 elapsed, ETA 0:02)" in lines[1]
    assert "(0:06 elapsed, ETA 0:00)" in lines[2]
    assert progress.count == 3 and progress.total == 3


def test_open_ended_plain_lines_keep_the_message_callback_format() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream)
    progress("urumqi: features")
    progress.step("urumqi: training on 1200 rows")
    progress.close()
    assert stream.getvalue() == "  … urumqi: features\n  … urumqi: training on 1200 rows\n"
    assert progress.count == 2 and progress.total is None


def test_tty_redraws_one_line_and_ends_it_with_a_newline() -> None:
    stream = FakeTTY()
    with Progress(
        4, label="bulletins", stream=stream, clock=Clock(1.0), min_interval=0, columns=200
    ) as progress:
        assert progress.tty
        for msg in ("a long first message", "b", "c", "d"):
            progress(msg)
            assert not stream.getvalue().endswith("\n")
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    frames = _frames(text)
    assert len(frames) == 4
    for i, (frame, msg) in enumerate(zip(frames, "abcd", strict=True), start=1):
        assert frame.startswith("bulletins [") and f" {i}/4 " in frame, frame
        assert f"{round(100 * i / 4):3d}%" in frame and "elapsed" in frame and "ETA" in frame
        assert frame.split("  ")[-1].startswith(msg)
        assert frame.count("#") == round(24 * i / 4)
    # A shorter line is padded so that nothing of the longer one before it is left behind.
    raw = text.rstrip("\n").split("\r")[1:]
    assert len(raw[1]) >= len(raw[0].rstrip())
    assert "100%" in frames[-1] and "ETA 0:00" in frames[-1]


def test_tty_throttles_redraws_but_always_shows_the_last_step() -> None:
    stream = FakeTTY()
    with Progress(50, stream=stream, clock=Clock(0.001), min_interval=10, columns=200) as p:
        for i in range(50):
            p(f"step {i}")
    frames = _frames(stream.getvalue())
    assert len(frames) == 2  # the first and the final (50/50) states
    assert " 1/50 " in frames[0] and "50/50" in frames[1] and "step 49" in frames[1]
    assert stream.getvalue().endswith("\n")


def test_tty_close_draws_a_pending_step_and_clear_erases_the_bar() -> None:
    stream = FakeTTY()
    p = Progress(label="train", stream=stream, clock=Clock(0.001), min_interval=10, columns=80)
    p("features")
    p("training")  # throttled: not drawn yet
    assert "training" not in stream.getvalue()
    p.clear()
    assert stream.getvalue().endswith("\r")  # erased: the cursor is back at the line start
    assert stream.getvalue().split("\r")[-2].strip() == ""
    p.close()
    p.close()  # idempotent
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("train [step 2]") and "training" in last


def test_phases_and_counted_with_every_kind_of_callback() -> None:
    calls: list[str] = []
    with counted(calls.append, 2, "bulletins") as step:
        step("a")
        step("")
    assert calls == ["bulletins 1/2: a", "bulletins 2/2"]
    with counted(None, 2, "bulletins") as step:
        step("nothing happens")

    stream = FakeTTY()
    p = Progress(label="hindcast", stream=stream, clock=Clock(1.0), min_interval=0, columns=200)
    p("training")
    with counted(p, 2, "bulletins") as step:
        assert p.total == 2 and p.label == "bulletins" and p.count == 0
        step("d1")
        step("d2")
    assert p.total is None and p.label == "hindcast" and p.count == 0
    p("archived")
    p.close()
    lines = stream.getvalue().split("\n")
    assert lines[-1] == ""  # ends with a newline
    assert len(lines) == 4  # one finished line per phase
    assert "hindcast [step 1]" in lines[0] and "training" in lines[0]
    assert "2/2" in lines[1].split("\r")[-1] and "d2" in lines[1]
    assert "hindcast [step 1]" in lines[2] and "archived" in lines[2]


def test_disabled_reporter_writes_nothing() -> None:
    stream = FakeTTY()
    with Progress(3, stream=stream, enabled=False) as p, p.counted(3):
        p("x")
    assert stream.getvalue() == ""
    with pytest.raises(ValueError, match="total"):
        Progress(-1)


# --------------------------------------------------------------------------------------------
# the commands (the engine functions replaced by fakes that report progress)


def test_backtest_and_train_commands_report_progress_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import models.backtest
    import models.training

    def fake_backtest(config: Any, start: str, end: str, *, progress: Any = None) -> dict:
        for msg in ("pooled: features", "pooled: training on 10 rows"):
            progress(msg)
        return {"from": start, "to": end, "resolution": "daily", "cities": {}}

    def fake_train(config: Any, *, city: Any = None, progress: Any = None) -> Iterator[str]:
        for c in ("urumqi", "changji"):
            progress(f"{c}: training on 10 rows")
            yield f"{c}: v0001 current"

    monkeypatch.setattr(models.backtest, "run_backtest", fake_backtest)
    monkeypatch.setattr(models.training, "train_and_register", fake_train)
    config = str(ROOT / "config.yaml")

    assert main(["backtest", "--config", config, "--from", "2016-01-01", "--to", "2016-01-02"]) == 0
    out, err = capsys.readouterr()
    assert err == "  … pooled: features\n  … pooled: training on 10 rows\n"
    assert out.startswith("back-test 2016-01-01 – 2016-01-02 (daily data)")

    args = ["backtest", "--config", config, "--from", "2016-01-01", "--to", "2016-01-02"]
    assert main([*args, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and '"from"' in out and "2016-01-01" in out

    assert main(["train", "--config", config]) == 0
    out, err = capsys.readouterr()
    assert out == "urumqi: v0001 current\nchangji: v0001 current\n"
    assert err == "  … urumqi: training on 10 rows\n  … changji: training on 10 rows\n"
