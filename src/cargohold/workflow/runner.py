"""Run a workflow: jobs in ``needs`` order, each with its own real job token.

    result = run_workflow(workflow, RunEnv(...))   # -> RunResult; result.ok

For every job (and matrix combination): evaluate its ``if``, compute its permissions as GitHub
does (``permissions.effective``), mint a job token for the repository through the
``TokenIssuer`` with exactly those, print the "Set up job" section, run the steps, and revoke
the token in a ``finally`` whatever happened. The token is masked in every log line.
A summary follows: jobs, steps, outcomes, durations, and pushed images with their digests.

A matrix's jobs run at most ``min(RunEnv.parallel, strategy.max-parallel)`` at once (``parallel``
is 1 unless ``--parallel`` says more: this machine is then like that many self-hosted runners);
``strategy.fail-fast`` (default true) cancels the matrix's queued and in-progress jobs once one
fails, unless that job's ``continue-on-error`` is true (see ``schedule``). Both may be
expressions. A job with ``continue-on-error: true`` that fails does not fail the run.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cargohold.workflow import expressions
from cargohold.workflow import permissions as perms
from cargohold.workflow.events import Event
from cargohold.workflow.job import JobResult, JobRun, truthy_text
from cargohold.workflow.log import Log
from cargohold.workflow.model import Job, Workflow, job_order
from cargohold.workflow.refs import Aliases
from cargohold.workflow.schedule import MatrixControl, run_matrix
from cargohold.workflow.source import WorkflowError
from cargohold.workflow.tokens import JobToken, TokenError, TokenIssuer


@dataclass
class RunEnv:
    """Everything a run shares between its jobs."""

    event: Event
    context_dir: Path
    work_root: Path
    issuer: TokenIssuer
    log: Log
    aliases: Aliases = field(default_factory=lambda: Aliases({}))
    secrets: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    run_id: str = "1"
    actions_source: str = "https://github.com"
    source_date_epoch: int | None = None
    only_job: str | None = None
    github: dict[str, Any] = field(default_factory=dict)
    workflow_env: dict[str, str] = field(default_factory=dict)
    defaults_run: dict[str, str] = field(default_factory=dict)
    summaries: list[tuple[str, str]] = field(default_factory=list)
    # How many matrix jobs may run at once here (like that many self-hosted runners);
    # strategy.max-parallel caps it per job.
    parallel: int = 1
    # Minting and revoking one at a time: the local issuer writes the data directory.
    issuer_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class RunResult:
    jobs: list[JobResult]

    @property
    def ok(self) -> bool:
        return all(_passed(j) for j in self.jobs)


def _passed(job: JobResult) -> bool:
    return job.outcome in ("success", "skipped") or (
        job.outcome == "failure" and job.continue_on_error
    )


def expand_matrix(matrix: Any) -> list[dict[str, Any]]:
    """GitHub's matrix: the product of the keys, minus ``exclude``, then ``include`` merged.

    An ``include`` entry is added to every combination whose original values it does not
    overwrite; when it fits none, it becomes a combination of its own.
    """
    if not matrix:
        return [{}]
    if not isinstance(matrix, Mapping):
        raise ValueError("strategy.matrix must be a mapping")
    keys = [k for k in matrix if k not in ("include", "exclude")]
    for key in keys:
        if not isinstance(matrix[key], list):
            raise ValueError(f"strategy.matrix.{key} must be a list")
    combos: list[dict[str, Any]] = (
        [
            dict(zip(keys, values, strict=True))
            for values in itertools.product(*(matrix[k] for k in keys))
        ]
        if keys
        else []
    )
    for rule in matrix.get("exclude") or []:
        if isinstance(rule, Mapping):
            combos = [c for c in combos if not all(c.get(k) == v for k, v in rule.items())]
    originals = [dict(c) for c in combos]
    base = len(combos)  # combinations from the product; include's own ones come after
    for entry in matrix.get("include") or []:
        if not isinstance(entry, Mapping):
            raise ValueError("strategy.matrix.include entries must be mappings")
        fitted = False
        for combo, original in zip(combos[:base], originals, strict=True):
            if all(original.get(k, v) == v for k, v in entry.items() if k in original):
                combo.update(entry)
                fitted = True
        if not fitted:
            combos.append(dict(entry))
    empty: dict[str, Any] = {}
    return combos or [empty]


def _title(job: Job, combo: Mapping[str, Any], many: bool) -> str:
    base = job.name or job.id
    if combo and many:
        values = ", ".join(str(v) for v in combo.values() if not isinstance(v, (dict, list)))
        return f"{base} ({values})"
    return base


def run_workflow(workflow: Workflow, renv: RunEnv) -> RunResult:
    log = renv.log
    for secret in renv.secrets.values():
        log.mask(secret)
    base_ctx = {
        "github": renv.github,
        "secrets": renv.secrets,
        "vars": renv.vars,
        "inputs": renv.inputs,
        "env": {},
    }
    try:
        renv.workflow_env = {
            k: expressions.interpolate(v, base_ctx) for k, v in workflow.env.items()
        }
    except expressions.ExpressionError as exc:
        raise WorkflowError(f"env: {exc}") from exc
    renv.defaults_run = dict(workflow.defaults_run)
    if workflow.concurrency is not None:
        log.line(f"concurrency: {workflow.concurrency} (reported; runs here are not queued)")
    results: list[JobResult] = []
    needs_ctx: dict[str, Any] = {}
    selected = _selected(workflow, renv.only_job)
    for job_id in job_order(workflow):
        if job_id not in selected:
            continue
        job = workflow.jobs[job_id]
        outcome, outputs = _run_job(workflow, job, renv, needs_ctx, results)
        needs_ctx[job_id] = {"result": outcome, "outputs": outputs}
    _summary(log, results, renv)
    return RunResult(results)


def _selected(workflow: Workflow, only: str | None) -> set[str]:
    if only is None:
        return set(workflow.jobs)
    if only not in workflow.jobs:
        raise WorkflowError(f"--job {only}: no such job (jobs: {', '.join(workflow.jobs)})")
    wanted = {only}
    stack = [only]
    while stack:
        for need in workflow.jobs[stack.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                stack.append(need)
    return wanted


def _run_job(
    workflow: Workflow,
    job: Job,
    renv: RunEnv,
    needs_ctx: Mapping[str, Any],
    results: list[JobResult],
) -> tuple[str, dict[str, str]]:
    log = renv.log
    needs = {n: needs_ctx[n] for n in job.needs if n in needs_ctx}
    failed_need = any(n["result"] != "success" for n in needs.values())
    status = "failure" if failed_need else "success"
    ctx = {"github": renv.github, "needs": needs, "vars": renv.vars, "inputs": renv.inputs}
    log.line("")
    log.line(f"=== Job {job.name or job.id} ===")
    if job.uses:
        log.error(f"job {job.id}: reusable workflows (uses: {job.uses}) are not run here")
        results.append(JobResult(job.id, job.name or job.id, "failure", 0.0))
        return "failure", {}
    try:
        run_it = expressions.evaluate_condition(job.if_, ctx, expressions.JobStatus(status))
    except expressions.ExpressionError as exc:
        raise WorkflowError(f"if: {exc}", job.pos) from exc
    if not run_it:
        why = "a job it needs did not succeed" if failed_need and not job.if_ else f"if: {job.if_}"
        log.line(f"Skipped ({why})")
        results.append(JobResult(job.id, job.name or job.id, "skipped", 0.0))
        return "skipped", {}
    matrix = job.matrix
    if isinstance(matrix, str):
        try:
            matrix = expressions.evaluate(
                matrix.strip().removeprefix("${{").removesuffix("}}"), ctx
            )
        except expressions.ExpressionError as exc:
            raise WorkflowError(f"strategy.matrix: {exc}", job.pos) from exc
    try:
        combos = expand_matrix(matrix)
    except ValueError as exc:
        raise WorkflowError(str(exc), job.pos) from exc
    fail_fast = _fail_fast(job, ctx)
    max_parallel = _max_parallel(job, ctx)
    total = len(combos)
    titles = [_title(job, combo, total > 1) for combo in combos]
    width = max(1, min(renv.parallel, max_parallel or total, total))
    if job.max_parallel is not None:
        log.line(
            f"strategy: max-parallel {max_parallel}; {width} at a time here "
            f"(--parallel {renv.parallel})"
        )

    def run_one(index: int, job_log: Log, control: MatrixControl) -> JobResult:
        strategy = {
            "fail-fast": fail_fast,
            "job-index": index,
            "job-total": total,
            "max-parallel": max_parallel or total,
        }
        return _run_one(
            workflow, job, titles[index], combos[index], needs, renv, strategy, job_log, control
        )

    mine = run_matrix(titles, width, run_one, log, job_id=job.id, fail_fast=fail_fast)
    results.extend(mine)
    outputs: dict[str, str] = {}
    for result in mine:
        outputs.update(result.outputs)
    outcomes = {r.outcome for r in mine}
    if "failure" in outcomes:
        return "failure", outputs
    if "cancelled" in outcomes:
        return "cancelled", outputs
    return "success", outputs


def _fail_fast(job: Job, ctx: Mapping[str, Any]) -> bool:
    if isinstance(job.fail_fast, bool):
        return job.fail_fast
    try:
        value = expressions.interpolate(job.fail_fast, ctx)
    except expressions.ExpressionError as exc:
        raise WorkflowError(f"strategy.fail-fast: {exc}", job.pos) from exc
    return truthy_text(value)


def _max_parallel(job: Job, ctx: Mapping[str, Any]) -> int | None:
    if job.max_parallel is None or isinstance(job.max_parallel, int):
        return job.max_parallel
    try:
        value = expressions.interpolate(job.max_parallel, ctx).strip()
        number = float(value)
    except expressions.ExpressionError as exc:
        raise WorkflowError(f"strategy.max-parallel: {exc}", job.pos) from exc
    except ValueError:
        number = 0.0
    if not (number >= 1 and number.is_integer()):
        raise WorkflowError(
            f"strategy.max-parallel {value!r} is not a positive whole number", job.pos
        )
    return int(number)


def _run_one(
    workflow: Workflow,
    job: Job,
    title: str,
    combo: Mapping[str, Any],
    needs: Mapping[str, Any],
    renv: RunEnv,
    strategy: Mapping[str, Any],
    log: Log,
    control: MatrixControl,
) -> JobResult:
    started = time.monotonic()
    index = int(strategy["job-index"])
    ctx = {
        "github": renv.github,
        "needs": needs,
        "strategy": strategy,
        "matrix": dict(combo),
        "vars": renv.vars,
        "inputs": renv.inputs,
    }
    try:
        continue_on_error = truthy_text(expressions.interpolate(job.continue_on_error, ctx))
    except expressions.ExpressionError as exc:
        log.error(str(WorkflowError(f"continue-on-error: {exc}", job.pos)))
        return JobResult(job.id, title, "failure", 0.0, error=str(exc))
    try:
        wanted = perms.effective(
            workflow.permissions, job.permissions, "restricted", fork=renv.event.fork
        )
    except perms.PermissionsError as exc:
        pos = job.permissions_pos or workflow.permissions_pos
        log.error(str(WorkflowError(str(exc), pos)))
        return JobResult(job.id, title, "failure", 0.0, error=str(exc))
    explicit = perms.explicit(workflow.permissions, job.permissions)
    try:
        with renv.issuer_lock:
            token = renv.issuer.mint(
                renv.event.repository,
                perms.for_registry(wanted) if explicit else None,
                run_id=renv.run_id,
                fork=renv.event.fork,
            )
    except TokenError as exc:
        log.error(f"Set up job: {exc}")
        return JobResult(job.id, title, "failure", time.monotonic() - started, error=str(exc))
    log.mask(token.secret)
    try:
        if not explicit:
            default = perms.owner_default_from(token.permissions)
            wanted = perms.effective(None, None, default, fork=renv.event.fork)
        _setup_section(log, workflow, job, title, token, wanted, explicit)
        run = JobRun(renv, workflow, job, title, combo, needs, token.secret, log, strategy)
        control.started(index, run)
        try:
            result = run.execute()
        finally:
            control.finished(index)
    finally:
        _revoke(renv, token, log)
    result.seconds = time.monotonic() - started
    result.continue_on_error = continue_on_error
    if result.outcome == "failure" and continue_on_error:
        log.line(f"(continue-on-error: the run goes on after job {title!r} failed)")
    log.line(f"Job {title}: {result.outcome} ({result.seconds:.1f}s)")
    return result


def _setup_section(
    log: Log,
    workflow: Workflow,
    job: Job,
    title: str,
    token: JobToken,
    wanted: Mapping[str, str],
    explicit: bool,
) -> None:
    log.group("Set up job")
    log.line("Current runner version: cargohold")
    log.line(f"Runner: this machine (runs-on: {job.runs_on!r} is reported and ignored)")
    if job.concurrency is not None:
        log.line(f"concurrency: {job.concurrency} (reported; not queued)")
    log.line("GITHUB_TOKEN Permissions")
    for line in perms.display_lines(wanted):
        log.line(f"  {line}")
    source = "the workflow's permissions" if explicit else "the owner's default"
    log.line(
        f"Job token {token.id} for {token.repository} ({source}; registry: "
        + ", ".join(f"{k}: {v}" for k, v in token.permissions.items())
        + f"), expires {token.expires_at}, revoked when the job ends"
    )
    log.line("Secret source: Actions")
    log.line("Prepare workflow directory")
    uses = sorted({s.uses for s in job.steps if s.uses})
    if uses:
        log.line("Prepare all required actions")
        for name in uses:
            log.line(f"  {name}")
    log.endgroup()


def _revoke(renv: RunEnv, token: JobToken, log: Log) -> None:
    try:
        with renv.issuer_lock:
            renv.issuer.revoke(token.id)
        log.line(f"Complete job: job token {token.id} revoked")
    except TokenError as exc:
        log.error(f"Complete job: could not revoke job token {token.id}: {exc}")


def _summary(log: Log, results: list[JobResult], renv: RunEnv) -> None:
    log.line("")
    log.line("=== Summary ===")
    for job in results:
        mark = {
            "success": "ok",
            "failure": "FAILED (continue-on-error)" if job.continue_on_error else "FAILED",
            "skipped": "skipped",
            "cancelled": "CANCELLED",
        }.get(job.outcome, job.outcome)
        log.line(f"job {job.title}: {mark} ({job.seconds:.1f}s)")
        for step in job.steps:
            note = step.outcome
            if step.outcome != step.conclusion:
                note += f" (conclusion {step.conclusion})"
            log.line(f"  {step.title}: {note} ({step.seconds:.1f}s)")
        if job.error:
            log.line(f"  error: {job.error}")
    pushed = [p for j in results for p in j.pushed]
    if pushed:
        log.line("pushed images:")
        for image in pushed:
            where = (
                f" (at {image.target})"
                if not image.target.startswith(image.reference.split("/")[0] + "/")
                else ""
            )
            log.line(f"  {image.reference}@{image.digest}{where}")
    for annotation in log.annotations:
        log.line(annotation.render())
    for title, text in renv.summaries:
        log.line(f"--- step summary of {title} ---")
        log.line(text.rstrip())
    ok = all(_passed(j) for j in results)
    log.line("outcome: " + ("success" if ok else "failure"))
