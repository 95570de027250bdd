"""jobs.JobRunner: the one background runner (latest wins per key, debounce, cancel, close)."""

from __future__ import annotations

import threading

import pytest

from galwidget.jobs import JobRunner

WAIT = 10  # seconds: generous on a busy 2-core machine; never a speed assertion


def blocker() -> tuple[threading.Event, threading.Event]:
    """A job that signals it started and then waits to be released."""
    return threading.Event(), threading.Event()


def test_results_and_errors_reach_the_future() -> None:
    runner = JobRunner("test")
    assert runner.submit(lambda: 6 * 7).result(WAIT) == 42

    def fail() -> None:
        raise ValueError("bad job")

    with pytest.raises(ValueError, match="bad job"):
        runner.submit(fail).result(WAIT)
    assert runner.submit(lambda: "still working").result(WAIT) == "still working"
    runner.close(wait=True)


def test_a_newer_job_of_the_same_key_supersedes_a_waiting_one() -> None:
    runner = JobRunner("test")
    started, release = blocker()
    running = runner.submit(lambda: (started.set(), release.wait(WAIT)))
    assert started.wait(WAIT)
    ran: list[int] = []
    first = runner.submit(lambda: ran.append(1), key="fit")
    other = runner.submit(lambda: ran.append(2), key="other")
    second = runner.submit(lambda: ran.append(3), key="fit")
    release.set()
    second.result(WAIT)
    other.result(WAIT)
    assert first.cancelled() and not second.cancelled()
    assert sorted(ran) == [2, 3]  # the superseded job never ran
    assert running.result(WAIT) == (None, True)
    runner.close(wait=True)


def test_a_delay_debounces_a_burst() -> None:
    runner = JobRunner("test")
    ran: list[int] = []
    futures = [runner.submit(lambda i=i: ran.append(i), key="retrain", delay=0.3) for i in range(5)]
    futures[-1].result(WAIT)
    assert ran == [4]
    assert all(f.cancelled() for f in futures[:-1])
    runner.close(wait=True)


def test_cancel_drops_only_jobs_that_have_not_started() -> None:
    runner = JobRunner("test")
    started, release = blocker()
    running = runner.submit(lambda: (started.set(), release.wait(WAIT)))
    assert started.wait(WAIT)
    waiting = runner.submit(lambda: "never")
    assert runner.cancel(waiting) and waiting.cancelled()
    assert not runner.cancel(running)  # it runs already
    release.set()
    assert running.result(WAIT) == (None, True)
    runner.close(wait=True)


def test_workers_run_jobs_side_by_side() -> None:
    runner = JobRunner("test", workers=2)
    both = threading.Barrier(2, timeout=WAIT)
    futures = [runner.submit(both.wait) for _ in range(2)]
    assert sorted(f.result(WAIT) for f in futures) == [0, 1]  # neither waited for the other
    names = {runner.submit(lambda: threading.current_thread().name).result(WAIT) for _ in range(4)}
    assert names <= {"galwidget-test-0", "galwidget-test-1"}
    runner.close(wait=True)


def test_close_cancels_what_waits_and_refuses_new_jobs() -> None:
    runner = JobRunner("test")
    started, release = blocker()
    running = runner.submit(lambda: (started.set(), release.wait(WAIT)))
    assert started.wait(WAIT)
    waiting = runner.submit(lambda: "never", delay=5)
    runner.close()
    assert waiting.cancelled()
    assert runner.submit(lambda: "late").cancelled()
    release.set()
    assert running.result(WAIT) == (None, True)  # a running job finishes
    runner.close(wait=True)


def test_a_runner_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        JobRunner("test", workers=0)
