"""A matrix's scheduling: never more than ``width`` jobs at once, logs kept apart, fail-fast.

Concurrency is shown with barriers (two jobs that can only finish together), never with
timings; a barrier's timeout only turns a hang into a failure.
"""

from __future__ import annotations

import io
import threading

import pytest

from cargohold.workflow.job import JobResult
from cargohold.workflow.log import Log
from cargohold.workflow.schedule import MatrixControl, run_matrix

WAIT = 30.0  # only reached when the behaviour under test is broken


class Probe:
    """Counts the jobs running at once and the threads they ran on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.threads: set[int] = set()
        self.calls: list[int] = []

    def enter(self, index: int) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.threads.add(threading.get_ident())
            self.calls.append(index)

    def leave(self) -> None:
        with self.lock:
            self.active -= 1


def test_width_jobs_run_together_never_more_and_logs_stay_whole() -> None:
    probe = Probe()
    pair = threading.Barrier(2, timeout=WAIT)  # jobs 0 and 1 can only pass it together

    def run_one(index: int, log: Log, control: MatrixControl) -> JobResult:
        probe.enter(index)
        log.line(f"job {index} begins")
        if index < 2:
            pair.wait()
        log.line(f"job {index} ends")
        probe.leave()
        return JobResult("t", f"t ({index})", "success", 0.0)

    out = io.StringIO()
    titles = [f"t ({i})" for i in range(5)]
    results = run_matrix(titles, 2, run_one, Log(out=out), job_id="t", fail_fast=True)
    assert [r.title for r in results] == titles
    assert probe.peak == 2
    assert len(probe.threads) <= 2
    text = out.getvalue()
    for i in range(5):
        assert f"job {i} begins\njob {i} ends\n" in text


def test_width_one_runs_in_order_in_the_callers_thread() -> None:
    probe = Probe()

    def run_one(index: int, log: Log, control: MatrixControl) -> JobResult:
        probe.enter(index)
        probe.leave()
        return JobResult("t", str(index), "success", 0.0)

    run_matrix(["a", "b", "c"], 1, run_one, Log(out=io.StringIO()), job_id="t", fail_fast=True)
    assert probe.calls == [0, 1, 2]
    assert probe.threads == {threading.get_ident()}


class FakeRun:
    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.reason = ""

    def cancel(self, reason: str) -> None:
        self.reason = reason
        self.cancelled.set()


def test_fail_fast_cancels_the_running_job_and_never_starts_the_queued() -> None:
    probe = Probe()
    both_running = threading.Barrier(2, timeout=WAIT)
    runs = {1: FakeRun()}

    def run_one(index: int, log: Log, control: MatrixControl) -> JobResult:
        probe.enter(index)
        try:
            if index == 0:
                both_running.wait()
                return JobResult("t", "t (0)", "failure", 0.0)
            run = runs[index]
            control.started(index, run)
            both_running.wait()
            # Blocks until fail-fast cancels it; a success here means it never was.
            outcome = "cancelled" if run.cancelled.wait(WAIT) else "success"
            control.finished(index)
            return JobResult("t", "t (1)", outcome, 0.0)
        finally:
            probe.leave()

    out = io.StringIO()
    titles = ["t (0)", "t (1)", "t (2)", "t (3)"]
    results = run_matrix(titles, 2, run_one, Log(out=out), job_id="t", fail_fast=True)
    assert [r.outcome for r in results] == ["failure", "cancelled", "cancelled", "cancelled"]
    assert sorted(probe.calls) == [0, 1]  # the queued ones never started
    assert "canceled because 't (0)' failed" in runs[1].reason
    assert "Cancelled: t (3) before it started" in out.getvalue()


def test_a_continue_on_error_failure_does_not_fail_fast() -> None:
    def run_one(index: int, log: Log, control: MatrixControl) -> JobResult:
        result = JobResult("t", str(index), "failure" if index == 0 else "success", 0.0)
        result.continue_on_error = index == 0
        return result

    log = Log(out=io.StringIO())
    results = run_matrix(["a", "b"], 1, run_one, log, job_id="t", fail_fast=True)
    assert [r.outcome for r in results] == ["failure", "success"]


def test_masks_from_a_finished_job_apply_to_a_later_jobs_log() -> None:
    first_done = threading.Event()

    def run_one(index: int, log: Log, control: MatrixControl) -> JobResult:
        if index == 0:
            log.mask("s3cr3t-from-job-0")
            first_done.set()
        else:
            assert first_done.wait(WAIT)
            log.line("job 1 printed s3cr3t-from-job-0")  # its own log did not know it
        return JobResult("t", str(index), "success", 0.0)

    out = io.StringIO()
    run_matrix(["a", "b"], 2, run_one, Log(out=out), job_id="t", fail_fast=True)
    assert "job 1 printed ***" in out.getvalue()
    assert "s3cr3t" not in out.getvalue()


def test_an_error_in_one_job_cancels_the_others_and_propagates() -> None:
    started = threading.Barrier(2, timeout=WAIT)
    run = FakeRun()

    def run_one(index: int, log: Log, control: MatrixControl) -> JobResult:
        if index == 0:
            started.wait()
            raise RuntimeError("boom")
        control.started(index, run)
        started.wait()
        assert run.cancelled.wait(WAIT)
        return JobResult("t", str(index), "cancelled", 0.0)

    with pytest.raises(RuntimeError, match="boom"):
        run_matrix(["a", "b"], 2, run_one, Log(out=io.StringIO()), job_id="t", fail_fast=False)
    assert run.cancelled.is_set()
