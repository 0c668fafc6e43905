"""Progress: an ETA from the work completed so far, and one line per step off a terminal."""

from __future__ import annotations

from simscale.reports.progress import WorkProgress, fmt_duration, progress_printer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_eta_is_elapsed_per_completed_unit_times_the_work_left():
    clock, lines = Clock(), []
    progress = WorkProgress("sweep", 20, "runs", tty=False, write=lines.append, clock=clock)
    assert progress.eta_s() is None  # nothing done yet: no guess
    clock.now += 30  # two parallel runs finish together after 30 s
    progress.advance(2, note="a/000 ok")
    assert progress.eta_s() == 30 / 2 * 18  # 4.5 minutes, not "1 s"
    assert lines == ["sweep: 2/20 runs · 0:30 elapsed · ETA 4:30 · a/000 ok"]
    clock.now += 270
    progress.advance(18)
    assert progress.eta_s() == 0 and lines[-1].startswith("sweep: 20/20 runs · 5:00 elapsed")


def test_off_a_terminal_a_line_per_step_and_none_in_between():
    lines = []
    run = progress_printer("quickstart", after_s=0, tty=False, write=lines.append)
    for t in range(0, 601, 15):  # slices of 15 s; a line every 10% of 600 s
        run(float(t), 600.0)
    assert len(lines) == 10
    assert lines[0].startswith("quickstart: 60/600 sim s") and "ETA" in lines[0]
    assert lines[-1].startswith("quickstart: 600/600 sim s")


def test_a_short_run_prints_nothing_before_after_s():
    lines = []
    run = progress_printer("quick", after_s=60, tty=False, write=lines.append)
    for t in range(0, 61, 10):
        run(float(t), 60.0)
    assert lines == []


def test_unknown_totals_count_without_an_eta():
    clock, lines = Clock(), []
    progress = WorkProgress("plan", 0, "points", tty=False, write=lines.append, clock=clock)
    clock.now += 5
    progress.advance(note="x=1")
    assert lines == ["plan: 1 points · 0:05 elapsed · ETA – · x=1"]


def test_durations_read_as_clock_times():
    assert [fmt_duration(s) for s in (None, 0, 59.6, 61, 3723)] == ["–", "0:00", "1:00",
                                                                     "1:01", "1:02:03"]
