"""Background jobs where the latest request wins: one runner for every kind of background work.

A :class:`JobRunner` runs submitted callables on its own worker threads and hands back a
``concurrent.futures.Future``. A job submitted with a ``key`` supersedes a job of the same key that
has not started yet (that job's future is cancelled), so a burst of requests costs one run; a
``delay`` holds a job back that long first, so a burst within the delay costs one run too
(debouncing). The widget's request registry, the labelling session's retraining and the learner
all use it, so cancellation, shutdown and thread naming behave the same everywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["JobRunner"]

T = TypeVar("T")


@dataclass(order=True)
class _Job:
    due: float
    number: int
    run: Callable[[], Any] = field(compare=False)
    future: Future[Any] = field(compare=False)
    key: Hashable | None = field(compare=False)


class JobRunner:
    """Runs jobs on ``workers`` threads named ``galwidget-<name>``, started on first use.

    Jobs start in order of their due time (submission time plus ``delay``), then of submission.
    """

    def __init__(self, name: str, *, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"a job runner needs at least one worker, got {workers}")
        self.name = name
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._waiting: list[_Job] = []
        self._numbers = 0
        self._closed = False
        self._changed = threading.Condition()

    def submit(
        self, run: Callable[[], T], *, key: Hashable | None = None, delay: float = 0.0
    ) -> Future[T]:
        """Run ``run()`` on a worker ``delay`` seconds from now; its result or exception goes to
        the returned future. A waiting job of the same ``key`` is cancelled. After
        :meth:`close`, the future is returned cancelled."""
        future: Future[T] = Future()
        with self._changed:
            if self._closed:
                future.cancel()
                return future
            if key is not None:
                for job in [job for job in self._waiting if job.key == key]:
                    self._waiting.remove(job)
                    job.future.cancel()
            self._numbers += 1
            self._waiting.append(_Job(time.monotonic() + delay, self._numbers, run, future, key))
            self._waiting.sort()
            while len(self._threads) < self._workers:  # all of them, on first use
                thread = threading.Thread(
                    target=self._work,
                    name=f"galwidget-{self.name}-{len(self._threads)}",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()
            self._changed.notify_all()
        return future

    def cancel(self, future: Future[Any]) -> bool:
        """Drop ``future``'s job if it has not started; ``True`` if it was dropped."""
        with self._changed:
            for job in self._waiting:
                if job.future is future:
                    self._waiting.remove(job)
                    return future.cancel()
        return False

    def close(self, *, wait: bool = False) -> None:
        """Cancel every waiting job and stop the workers (after the running jobs, if ``wait``)."""
        with self._changed:
            self._closed = True
            for job in self._waiting:
                job.future.cancel()
            self._waiting.clear()
            self._changed.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._closed:
                    if self._waiting:
                        wait = self._waiting[0].due - time.monotonic()
                        if wait <= 0:
                            break
                        self._changed.wait(wait)
                    else:
                        self._changed.wait()
                if self._closed:
                    return
                job = self._waiting.pop(0)
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                result = job.run()
            except BaseException as error:  # delivered to whoever holds the future
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
