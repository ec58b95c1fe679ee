"""One job's matrix: at most ``width`` of its jobs at once; fail-fast cancels the others.

    results = run_matrix(titles, width, run_one, log, fail_fast=True)

``run_one(index, log, control)`` runs the matrix job ``index`` and returns its ``JobResult``;
it hands its ``JobRun`` to ``control.started`` so that fail-fast can cancel it while it runs.
With ``width`` 1 the jobs run one after the other in the caller's thread, logging live. With
more, a pool of exactly ``width`` threads runs them (so never more at once), each with a log
of its own that goes to the run's log, through its masks, when the job ends: lines of jobs
running side by side are not interleaved. Results come back in matrix order.

Fail-fast, as GitHub: once a job fails (and its ``continue-on-error`` is not true), the jobs
still queued never start (no token is minted for them) and the ones in progress are cancelled
(their process is killed; their ``always()`` steps still run). Both are reported cancelled.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Protocol

from cargohold.workflow.job import JobResult
from cargohold.workflow.log import Log


class Cancellable(Protocol):
    def cancel(self, reason: str) -> None: ...


class MatrixControl:
    """The matrix jobs now running, so that fail-fast can cancel them (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, Cancellable] = {}
        self.reason: str | None = None

    def started(self, index: int, run: Cancellable) -> None:
        with self._lock:
            self._runs[index] = run
            if self.reason is not None:
                run.cancel(self.reason)

    def finished(self, index: int) -> None:
        with self._lock:
            self._runs.pop(index, None)

    def cancel(self, reason: str) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
            runs = list(self._runs.values())
        for run in runs:
            run.cancel(reason)

    @property
    def cancelled(self) -> bool:
        return self.reason is not None


RunOne = Callable[[int, Log, MatrixControl], JobResult]


def run_matrix(
    titles: Sequence[str],
    width: int,
    run_one: RunOne,
    log: Log,
    *,
    job_id: str,
    fail_fast: bool,
) -> list[JobResult]:
    """Run the matrix jobs named ``titles``; their results, in matrix order."""
    control = MatrixControl()
    results: list[JobResult | None] = [None] * len(titles)

    def done(index: int, result: JobResult) -> None:
        results[index] = result
        if (
            fail_fast
            and len(titles) > 1
            and result.outcome == "failure"
            and not result.continue_on_error
            and not control.cancelled
            and None in results
        ):
            log.line("fail-fast: the other matrix jobs are cancelled")
            control.cancel(
                f"The strategy configuration was canceled because {titles[index]!r} failed "
                "(fail-fast)"
            )

    if width <= 1:
        for index in range(len(titles)):
            if control.cancelled:
                break
            done(index, run_one(index, log, control))
    else:
        _in_pool(titles, width, run_one, log, control, done)
    out: list[JobResult] = []
    for index, result in enumerate(results):
        if result is None:
            log.line(f"Cancelled: {titles[index]} before it started: {control.reason}")
            result = JobResult(job_id, titles[index], "cancelled", 0.0, error="fail-fast")
        out.append(result)
    return out


def _in_pool(
    titles: Sequence[str],
    width: int,
    run_one: RunOne,
    log: Log,
    control: MatrixControl,
    done: Callable[[int, JobResult], None],
) -> None:
    log.line(f"Running up to {width} of the {len(titles)} matrix jobs at once")
    pending: dict[Future[JobResult], tuple[int, Log]] = {}
    queued = iter(range(len(titles)))
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="matrix") as pool:
        try:
            while True:
                while len(pending) < width and not control.cancelled:
                    index = next(queued, None)
                    if index is None:
                        break
                    own = Log(
                        out=io.StringIO(),
                        masks=set(log.masks),
                        debug=log.debug,
                        terminal=log.terminal,
                    )
                    pending[pool.submit(run_one, index, own, control)] = (index, own)
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: pending[f][0]):
                    index, own = pending.pop(future)
                    _merge(log, own)
                    done(index, future.result())
        except BaseException:
            # An error (or ^C) in one job: stop the others rather than wait for them.
            control.cancel("The run stopped: another job of the matrix raised an error")
            raise


def _merge(log: Log, own: Log) -> None:
    """A finished job's log into the run's: masked again with every mask known by now."""
    log.masks |= own.masks
    log.annotations.extend(own.annotations)
    assert isinstance(own.out, io.StringIO)
    text = own.out.getvalue()
    if text:
        log.out.write(log.redact(text))
        log.out.flush()
