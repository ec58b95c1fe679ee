"""One job run: its token, workspace, contexts and steps.

    run = JobRun(env=..., job=..., matrix={...}, token=..., log=...)
    run.execute() -> JobResult (outcome, step results, outputs, pushed images)

Steps run in order; a step's ``if`` (with the implicit ``success()``) sees the job status so
far; a failing step with ``continue-on-error`` has outcome failure and conclusion success.
The job's ``timeout-minutes`` (default 360, expressions allowed) is enforced as on GitHub: when
it passes, the job is cancelled (``cancel``): the running step is stopped, that step's outcome
is ``cancelled``, later steps run only when their ``if`` holds for a cancelled job
(``always()``, ``cancelled()``), and the job's outcome is ``cancelled``. A step's own
``timeout-minutes`` stops it the same way (its outcome is then ``failure``). Stopping is the
step's ``StepSignal`` (``interrupt``): it kills the process tree of a ``run:`` step, a node
action or a helper a built-in action started (``watch``, ``call``), shuts down a built-in
action's registry connections, and its Python loops check it. Node actions' ``pre``
scripts run before the first step and their ``post`` scripts after the last, in reverse.
``run:`` steps go to a shell with GitHub's file commands (``GITHUB_ENV``, ``GITHUB_OUTPUT``,
``GITHUB_PATH``, ``GITHUB_STEP_SUMMARY``) and workflow commands on stdout; ``uses:`` steps go
to ``actions.dispatch``. Every line printed goes through the log's masks.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cargohold.workflow import expressions
from cargohold.workflow.interrupt import Interrupted, StepSignal
from cargohold.workflow.log import Log, parse_file_command
from cargohold.workflow.model import Job, Step, Workflow
from cargohold.workflow.ociclient import Credentials
from cargohold.workflow.source import Pos, WorkflowError

if TYPE_CHECKING:
    from cargohold.workflow.runner import RunEnv

SHELLS = {
    "bash": ("bash --noprofile --norc -eo pipefail {0}", ".sh"),
    "sh": ("sh -e {0}", ".sh"),
    "python": ("python3 {0}", ".py"),
    "pwsh": ("pwsh -command \". '{0}'\"", ".ps1"),
}
DEFAULT_TIMEOUT_MINUTES = 360.0
# What GitHub leaves steps that run after a cancellation (``always()``, posts) before it kills
# them: its runner's cancel timeout, 5 minutes.
CANCEL_GRACE_SECONDS = 300.0
RUNNER_NAME = "cargohold"
# GitHub's line for a step stopped by the job's cancellation.
CANCELED = "The operation was canceled."


class StepFailedError(Exception):
    """A step failed; the message is what the log shows as ``##[error]``."""


@dataclass
class StepResult:
    step: Step
    title: str
    outcome: str  # success, failure, cancelled, skipped
    conclusion: str
    seconds: float
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PushedImage:
    reference: str  # as the workflow names it (ghcr.io/acme/shop:v1)
    digest: str
    target: str  # where it went (127.0.0.1:5000/acme/shop:v1)


@dataclass
class JobResult:
    job_id: str
    title: str
    outcome: str  # success, failure, cancelled, skipped
    seconds: float
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    pushed: list[PushedImage] = field(default_factory=list)
    error: str | None = None
    continue_on_error: bool = False  # the job's own: its failure does not fail the run


@dataclass
class Phase:
    """The ``pre`` or ``post`` of an action step, run as one step of its own.

    A node action's is its script (``argv``, with ``env`` and the action's ``state``). A
    composite action's holds the phases of the actions it uses (``children``, in step order;
    posts run the last registered first, ``lifo``), as GitHub runs them: inside one step
    titled after the composite, whose own condition is ``always()``. ``extra`` is what the
    condition's contexts add (``steps``, the composite's ``inputs``). A post group is added
    to its parent (``attached``) when its first post is registered: a composite whose actions
    registered none has no post step.
    """

    step: Step
    title: str
    condition: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    state: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    children: list[Phase] = field(default_factory=list)
    lifo: bool = False
    parent: Phase | None = None
    attached: bool = False


def truthy_text(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


def minutes_text(minutes: float) -> str:
    return f"{minutes:g}"


def kill_tree(proc: subprocess.Popen[str]) -> None:
    """Kill a step's process and everything it started (it leads its own session, see
    ``start_new_session``): a ``sleep`` left behind would hold the output pipe open."""
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


class JobRun:
    """The state of one job while it runs (one matrix combination)."""

    def __init__(
        self,
        env: RunEnv,
        workflow: Workflow,
        job: Job,
        title: str,
        matrix: Mapping[str, Any],
        needs: Mapping[str, Any],
        token_secret: str,
        log: Log,
        strategy: Mapping[str, Any] | None = None,
    ) -> None:
        self.renv = env
        self.workflow = workflow
        self.job = job
        self.title = title
        self.matrix = dict(matrix)
        self.needs = dict(needs)
        self.token = token_secret
        self.log = log
        self.root = Path(tempfile.mkdtemp(prefix=f"job-{job.id}-", dir=env.work_root))
        name = env.event.repository.split("/")[-1]
        self.workspace = self.root / "work" / name / name
        self.workspace.mkdir(parents=True)
        self.temp = self.root / "temp"
        self.temp.mkdir()
        self.event_path = self.root / "event.json"
        self.event_path.write_text(json.dumps(env.event.payload, indent=2))
        self.status = "success"
        self.steps_ctx: dict[str, Any] = {}
        self.env: dict[str, str] = {}
        self.path_prepend: list[str] = []
        self.logins: dict[str, Credentials] = {}
        self.pushed: list[PushedImage] = []
        self.results: list[StepResult] = []
        self.summary_parts: list[str] = []
        self._legacy_outputs: dict[str, str] = {}
        self.strategy = dict(
            strategy
            or {
                "fail-fast": job.fail_fast,
                "job-index": 0,
                "job-total": 1,
                "max-parallel": 1,
            }
        )
        self.posts: list[Phase] = []
        # The post step of the composite action now running, if any (``register_post``).
        self.post_group: Phase | None = None
        # Where the action step now running is: step indexes from the job's down through the
        # composite actions it is in. Its pre, main and post find their shared state by it.
        self.step_key: tuple[int, ...] = ()
        # The ``env:`` of that step and of the composite steps it is in (not the job's, which
        # steps may change with GITHUB_ENV): the steps of a composite action it runs see it.
        self.step_env: dict[str, str] = {}
        # The state (``GITHUB_STATE``, ``::save-state``) of the action step now running; its
        # pre, main and post share it (as ``STATE_<name>``).
        self.state: dict[str, str] | None = None
        self.action_states: dict[tuple[int, ...], dict[str, str]] = {}
        # Cancellation (the job's timeout, or the runner): set from another thread.
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._cancel_reason = ""
        self._cancel_logged = False
        self._cancel_deadline: float | None = None
        # The signals of the steps now running, the job's own first (set-up work, such as
        # fetching actions, is stopped by a cancellation too); the innermost is ``signal``.
        # A step that started after the cancellation is not stopped by it (the flag beside it).
        self._signals: list[tuple[StepSignal, bool]] = [(StepSignal(), False)]
        # Whether the step now running started after the cancellation, and when it must end
        # (its own timeout-minutes, an enclosing composite's, or the cancel grace).
        self._step_after_cancel = False
        self._step_deadline: float | None = None
        self._deadline_message = ""

    # -- contexts -------------------------------------------------------------------------

    def github(self) -> dict[str, Any]:
        ctx = dict(self.renv.github)
        ctx.update(
            {
                "job": self.job.id,
                "token": self.token,
                "workspace": str(self.workspace),
                "event_path": str(self.event_path),
                "action_path": "",
            }
        )
        return ctx

    def contexts(self, env: Mapping[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        secrets = dict(self.renv.secrets)
        secrets["GITHUB_TOKEN"] = self.token
        ctx: dict[str, Any] = {
            "github": self.github(),
            "env": dict(self.env if env is None else env),
            "secrets": secrets,
            "vars": dict(self.renv.vars),
            "steps": self.steps_ctx,
            "needs": self.needs,
            "job": {"status": self.status, "container": {}, "services": {}},
            "runner": {
                "os": "Linux",
                "arch": "X64",
                "name": "cargohold",
                "temp": str(self.temp),
                "tool_cache": str(self.root / "tool_cache"),
                "debug": "",
                "environment": "self-hosted",
            },
            "inputs": dict(self.renv.inputs),
            "matrix": self.matrix,
            "strategy": dict(self.strategy),
        }
        ctx.update(extra)
        return ctx

    def interpolate(self, text: str, ctx: Mapping[str, Any], pos: Pos | None) -> str:
        try:
            return expressions.interpolate(text, ctx, workspace=str(self.workspace))
        except expressions.ExpressionError as exc:
            raise WorkflowError(str(exc), pos) from exc

    def condition(self, text: str | None, ctx: Mapping[str, Any], pos: Pos | None) -> bool:
        if text is None or not text.strip():
            text = "success()"
        try:
            return expressions.evaluate_condition(
                text, ctx, expressions.JobStatus(self.status), workspace=str(self.workspace)
            )
        except expressions.ExpressionError as exc:
            raise WorkflowError(str(exc), pos) from exc

    # -- the job --------------------------------------------------------------------------

    def execute(self) -> JobResult:
        started = time.monotonic()
        error: str | None = None
        timer: threading.Timer | None = None
        outputs: dict[str, str] = {}
        try:
            base_env = dict(self.renv.workflow_env)
            job_ctx = self.contexts(env=base_env)
            for key, value in self.job.env.items():
                base_env[key] = self.interpolate(value, job_ctx, self.job.pos)
            self.env = base_env
            limit = self.timeout_minutes()
            seconds = min(limit * 60, threading.TIMEOUT_MAX)  # a huge limit is no limit
            timer = threading.Timer(seconds, self.cancel, args=(self._timeout_reason(limit),))
            timer.daemon = True
            timer.start()
            from cargohold.workflow.actions.external import run_pre_steps

            run_pre_steps(self)
            for step in self.job.steps:
                self.run_step(step)
        except WorkflowError as exc:
            error = str(exc)
            self.log.error(error)
            self.status = "failure"
        try:
            self.run_post_steps()
            if error is None:
                outputs = self.job_outputs()
        except WorkflowError as exc:
            error = error or str(exc)
            self.log.error(str(exc))
            self.status = "failure"
        finally:
            if timer is not None:
                timer.cancel()
        self.observe_cancel()
        if self.summary_parts:
            self.renv.summaries.append((self.title, "".join(self.summary_parts)))
        return JobResult(
            job_id=self.job.id,
            title=self.title,
            outcome=self.status,
            seconds=time.monotonic() - started,
            steps=self.results,
            outputs=outputs,
            pushed=self.pushed,
            error=error,
        )

    def timeout_minutes(self) -> float:
        """The job's ``timeout-minutes`` (360 when absent), evaluated with the contexts GitHub
        allows there."""
        text = self.job.timeout_minutes
        if text is None or not text.strip():
            return DEFAULT_TIMEOUT_MINUTES
        allowed = ("github", "needs", "strategy", "matrix", "vars", "inputs")
        ctx = {k: v for k, v in self.contexts().items() if k in allowed}
        value = self.interpolate(text, ctx, self.job.pos)
        try:
            minutes = float(value)
        except ValueError:
            minutes = float("nan")
        if not minutes > 0 or minutes == float("inf"):
            raise WorkflowError(
                f"job {self.job.id}: timeout-minutes {value!r} is not a positive number",
                self.job.pos,
            )
        return minutes

    def _timeout_reason(self, minutes: float) -> str:
        return (
            f"The job running on runner {RUNNER_NAME} has exceeded the maximum execution time "
            f"of {minutes_text(minutes)} minutes (job {self.title!r}, timeout-minutes); "
            "it is cancelled"
        )

    # -- cancellation ---------------------------------------------------------------------

    def cancel(self, reason: str) -> None:
        """Cancel the job (any thread): the running step is stopped (its processes killed, a
        built-in action's HTTP connections shut down); later steps run only when their
        condition holds for a cancelled job, within ``CANCEL_GRACE_SECONDS``."""
        with self._lock:
            if self._cancelled.is_set():
                return
            self._cancel_reason = reason
            self._cancel_deadline = time.monotonic() + CANCEL_GRACE_SECONDS
            self._cancelled.set()
            running = [s for s, after_cancel in self._signals if not after_cancel]
        for step_signal in running:
            step_signal.fire(CANCELED)

    @property
    def signal(self) -> StepSignal:
        """The running step's stop signal: what a built-in action starts registers with it
        (``watch``, ``call``, ``RegistryClient(signal=...)``) and its loops ``check`` it."""
        return self._signals[-1][0]

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def observe_cancel(self) -> None:
        """In the job's thread: take a cancellation into the status, and log why, once."""
        if not self._cancelled.is_set():
            return
        self.status = "cancelled"
        if not self._cancel_logged:
            self._cancel_logged = True
            self.log.error(self._cancel_reason)

    @contextlib.contextmanager
    def watch(self, proc: subprocess.Popen[str]) -> Iterator[None]:
        """Kill ``proc``'s tree (it leads its own session) when the running step's signal
        fires: at its deadline, or when the job is cancelled while it runs (at once when that
        already happened). After the block, ``self.signal.check()`` says whether it was."""
        try:
            with self.signal.stopping(lambda: kill_tree(proc)):
                yield
        except BaseException:
            kill_tree(proc)  # e.g. ^C: the child is in its own session and did not see it
            raise

    def call(self, argv: list[str], cwd: Path | None = None) -> tuple[int, str, str]:
        """Run a helper process of a built-in action (git, skopeo...) to its end: (exit code,
        stdout, stderr). It is stopped like a ``run:`` step's process, and then ``Interrupted``
        is raised; ``OSError`` when it cannot start."""
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,  # so a timeout or cancel kills the whole tree
        )
        with self.watch(proc), proc:
            out, err = proc.communicate()
        self.signal.check()
        return proc.returncode, out, err

    def register_post(self, phase: Phase) -> None:
        """Register a node action's post when its main step starts: in the job's list, or
        in the post step of the composite action it is used by."""
        self._add_post(phase, self.post_group)

    def _add_post(self, phase: Phase, group: Phase | None) -> None:
        if group is None:
            self.posts.append(phase)
            return
        if not group.attached:
            group.attached = True
            self._add_post(group, group.parent)
        group.children.append(phase)

    def run_post_steps(self) -> None:
        """Actions' posts, the last registered first, each when its ``post-if`` (default
        ``always()``) holds for the job's status by then."""
        while self.posts:
            self.run_phase(self.posts.pop())

    def run_phase(self, phase: Phase) -> StepResult:
        """A ``pre`` or ``post`` step: its condition is evaluated against the job's status
        (``always()`` unless the action says otherwise); the state saved by the action's
        other phases is in ``STATE_<name>``; a failure fails the job."""
        self.observe_cancel()
        started = time.monotonic()
        if not self._phase_holds(phase):
            result = StepResult(phase.step, phase.title, "skipped", "skipped", 0.0)
            self.results.append(result)
            return result
        self.log.group(phase.title)
        outcome = self._phase_body(phase)
        self.log.endgroup()
        if outcome == "failure":
            self.status = "failure"
        self.observe_cancel()
        result = StepResult(phase.step, phase.title, outcome, outcome, time.monotonic() - started)
        self.results.append(result)
        return result

    def _phase_holds(self, phase: Phase) -> bool:
        ctx = self.contexts(env=phase.env, **phase.extra)
        if self.condition(phase.condition, ctx, phase.step.pos):
            return True
        self.log.line(f"Skipped: {phase.title} (if: {phase.condition} is false)")
        return False

    def _phase_body(self, phase: Phase) -> str:
        """Run a phase's script, or its children's (each when its condition holds); its
        outcome: failure when one failed, cancelled when it was stopped by a cancel."""
        if not phase.argv:
            outcomes = []
            for child in reversed(phase.children) if phase.lifo else list(phase.children):
                if self._phase_holds(child):
                    self.log.line(child.title)
                    outcomes.append(self._phase_body(child))
            return next((o for o in ("failure", "cancelled") if o in outcomes), "success")
        outcome = "success"
        ctx = self.contexts(env=phase.env, **phase.extra)
        proc_env = {**phase.env, **{f"STATE_{k}": v for k, v in phase.state.items()}}
        saved_state, self.state = self.state, phase.state
        with self.step_limits(None, ctx) as (after_cancel, _):
            try:
                self.run_argv(phase.argv, self.workspace, proc_env)
            except (StepFailedError, Interrupted) as exc:
                self.log.error(str(exc))
                outcome = "failure"
            if self._cancelled.is_set() and not after_cancel:
                outcome = "cancelled"
        self.state = saved_state
        return outcome

    def job_outputs(self) -> dict[str, str]:
        ctx = self.contexts()
        return {k: self.interpolate(v, ctx, self.job.pos) for k, v in self.job.outputs.items()}

    def run_step(self, step: Step, scope: StepScope | None = None) -> StepResult:
        """Run one step of the job (or of a composite action: ``scope``); its result."""
        scope = scope or StepScope(self.steps_ctx, {})
        saved = self.step_key, self.step_env
        self.step_key = (*scope.key, step.index)
        try:
            return self._run_step(step, scope)
        finally:
            self.step_key, self.step_env = saved

    def _run_step(self, step: Step, scope: StepScope) -> StepResult:
        self.observe_cancel()
        started = time.monotonic()
        env = {**self.env, **scope.env}
        ctx = self.contexts(env=env, steps=scope.steps, **scope.extra)
        title = self.interpolate(step.display, ctx, step.pos)
        if not self.condition(step.if_, ctx, step.pos):
            self.log.line(f"Skipped: {title} (if: {step.if_ or 'success()'} is false)")
            result = StepResult(step, title, "skipped", "skipped", 0.0)
            self._record(step, result, scope)
            return result
        for key, value in step.env.items():
            env[key] = self.interpolate(
                value, self.contexts(env=env, steps=scope.steps, **scope.extra), step.pos
            )
        self.step_env = {**scope.env, **{k: env[k] for k in step.env}}
        ctx = self.contexts(env=env, steps=scope.steps, **scope.extra)
        self.log.group(title)
        outputs: dict[str, str] = {}
        outcome = "success"
        with self.step_limits(step, ctx) as (after_cancel, limit_error):
            try:
                if limit_error is not None:
                    raise StepFailedError(limit_error)
                if step.run is not None:
                    outputs = self.run_shell(step, env, ctx)
                else:
                    from cargohold.workflow.actions import dispatch

                    outputs = dispatch(self, step, env, ctx)
            except (StepFailedError, Interrupted) as exc:
                self.log.error(str(exc))
                outcome = "failure"
            except WorkflowError as exc:
                self.log.error(str(exc))
                outcome = "failure"
            if self._cancelled.is_set() and not after_cancel:
                outcome = "cancelled"  # it was stopped, whatever it was (run:, action)
        self.log.endgroup()
        conclusion = outcome
        if outcome == "failure":
            coe = self.interpolate(step.continue_on_error, ctx, step.pos)
            if truthy_text(coe):
                conclusion = "success"
                self.log.line(f"(continue-on-error: the job goes on after {title!r} failed)")
            else:
                self.status = "failure"
        self.observe_cancel()
        result = StepResult(step, title, outcome, conclusion, time.monotonic() - started, outputs)
        self._record(step, result, scope)
        return result

    @contextlib.contextmanager
    def step_limits(
        self, step: Step | None, ctx: Mapping[str, Any]
    ) -> Iterator[tuple[bool, str | None]]:
        """Set the deadline of a step: its ``timeout-minutes``, an enclosing composite's, and
        after a cancellation at most the grace. Yields whether the step started after the job
        was cancelled, and the error that fails the step when its timeout-minutes is invalid.
        """
        saved = (self._step_after_cancel, self._step_deadline, self._deadline_message)
        limits: list[tuple[float, str]] = []
        error = None
        if saved[1] is not None:
            limits.append((saved[1], saved[2]))
        if step is not None and step.timeout_minutes:
            minutes = self.interpolate(step.timeout_minutes, ctx, step.pos)
            try:
                seconds = float(minutes) * 60
            except ValueError:
                seconds = float("nan")
            if seconds > 0:
                message = f"The action has timed out (timeout-minutes: {minutes})."
                limits.append((time.monotonic() + seconds, message))
            else:
                error = f"timeout-minutes {minutes!r} is not a positive number"
        signal = StepSignal()
        with self._lock:
            after_cancel = self._cancelled.is_set() or saved[0]
            if self._cancel_deadline is not None and after_cancel:
                message = "The step ran past the cancelled job's grace period and was killed."
                limits.append((self._cancel_deadline, message))
            self._signals.append((signal, after_cancel))
        self._step_after_cancel = after_cancel
        self._step_deadline, self._deadline_message = min(limits) if limits else (None, "")
        timer = None
        if self._step_deadline is not None:
            delay = max(0.0, self._step_deadline - time.monotonic())
            timer = threading.Timer(delay, signal.fire, args=(self._deadline_message,))
            timer.daemon = True
            timer.start()
        try:
            yield after_cancel, error
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                self._signals.pop()
            self._step_after_cancel, self._step_deadline, self._deadline_message = saved

    def _record(self, step: Step, result: StepResult, scope: StepScope) -> None:
        if scope.steps is self.steps_ctx:
            self.results.append(result)
        if step.id:
            scope.steps[step.id] = {
                "outputs": result.outputs,
                "outcome": result.outcome,
                "conclusion": result.conclusion,
            }

    # -- run: steps -----------------------------------------------------------------------

    def file_env(self, env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Path]]:
        """The process environment of a step, and its fresh file-command files."""
        files = {}
        for name in (
            "GITHUB_ENV",
            "GITHUB_OUTPUT",
            "GITHUB_PATH",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_STATE",
        ):
            fd, path = tempfile.mkstemp(prefix=name.lower() + "-", dir=self.temp)
            os.close(fd)
            files[name] = Path(path)
        gh = self.github()
        proc_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        proc_env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_REPOSITORY": gh["repository"],
                "GITHUB_REPOSITORY_OWNER": gh["repository_owner"],
                "GITHUB_ACTOR": gh["actor"],
                "GITHUB_EVENT_NAME": gh["event_name"],
                "GITHUB_EVENT_PATH": str(self.event_path),
                "GITHUB_REF": gh["ref"],
                "GITHUB_REF_NAME": gh["ref_name"],
                "GITHUB_REF_TYPE": gh["ref_type"],
                "GITHUB_SHA": gh["sha"],
                "GITHUB_RUN_ID": gh["run_id"],
                "GITHUB_RUN_NUMBER": gh["run_number"],
                "GITHUB_RUN_ATTEMPT": gh["run_attempt"],
                "GITHUB_JOB": self.job.id,
                "GITHUB_WORKFLOW": gh["workflow"],
                "GITHUB_SERVER_URL": gh["server_url"],
                "GITHUB_API_URL": gh["api_url"],
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
                "RUNNER_TEMP": str(self.temp),
            }
        )
        proc_env.update({k: str(v) for k, v in env.items()})
        proc_env.update({k: str(p) for k, p in files.items()})
        if self.path_prepend:
            proc_env["PATH"] = os.pathsep.join(
                [*reversed(self.path_prepend), proc_env.get("PATH", "")]
            )
        return proc_env, files

    def collect(self, files: Mapping[str, Path]) -> dict[str, str]:
        """Apply GITHUB_ENV / GITHUB_PATH / GITHUB_STEP_SUMMARY; return GITHUB_OUTPUT."""
        try:
            self.env.update(parse_file_command(files["GITHUB_ENV"].read_text(), "GITHUB_ENV"))
            outputs = parse_file_command(files["GITHUB_OUTPUT"].read_text(), "GITHUB_OUTPUT")
        except ValueError as exc:
            raise StepFailedError(str(exc)) from exc
        try:
            state = parse_file_command(files["GITHUB_STATE"].read_text(), "GITHUB_STATE")
        except ValueError as exc:
            raise StepFailedError(str(exc)) from exc
        if self.state is not None:
            self.state.update(state)
        for line in files["GITHUB_PATH"].read_text().splitlines():
            if line.strip():
                self.path_prepend.append(line.strip())
        summary = files["GITHUB_STEP_SUMMARY"].read_text()
        if summary.strip():
            self.summary_parts.append(self.log.redact(summary))
        return outputs

    def run_shell(
        self, step: Step, env: Mapping[str, str], ctx: Mapping[str, Any]
    ) -> dict[str, str]:
        assert step.run is not None
        script = self.interpolate(step.run, ctx, step.run_pos or step.pos)
        defaults = {**self.renv.defaults_run, **self.job.defaults_run}
        shell = step.shell or defaults.get("shell") or "bash"
        workdir = step.working_directory or defaults.get("working-directory")
        cwd = (
            self.workspace / self.interpolate(workdir, ctx, step.pos) if workdir else self.workspace
        )
        return self.run_script(script, shell, cwd, env)

    def run_script(
        self,
        script: str,
        shell: str,
        cwd: Path,
        env: Mapping[str, str],
    ) -> dict[str, str]:
        template, suffix = SHELLS.get(shell, (shell, ""))
        if "{0}" not in template:
            template += " {0}"
        fd, path = tempfile.mkstemp(suffix=suffix, dir=self.temp)
        with os.fdopen(fd, "w") as out:
            out.write(script)
        argv = [part.replace("{0}", path) for part in shlex.split(template)]
        for line in script.splitlines():
            self.log.line(f"  {line}")
        self.log.line(f"shell: {template}")
        return self.run_argv(argv, cwd, env)

    def run_argv(self, argv: list[str], cwd: Path, env: Mapping[str, str]) -> dict[str, str]:
        """Run a process with the step's environment and file commands; its outputs.

        It is killed when the step's ``timeout-minutes`` passes or the job is cancelled.
        """
        proc_env, files = self.file_env(env)
        if not cwd.is_dir():
            raise StepFailedError(f"working-directory {cwd} does not exist")
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=proc_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                start_new_session=True,  # so a timeout or cancel kills the whole tree
            )
        except OSError as exc:
            raise StepFailedError(f"cannot start shell {argv[0]!r}: {exc}") from exc
        # ``with proc`` closes the pipe and reaps the child even when logging raises.
        with self.watch(proc), proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.log.step_output(line, self._legacy_command)
            code = proc.wait()
        outputs = self.collect(files)
        outputs.update(self._legacy_outputs)
        self._legacy_outputs = {}
        self.signal.check()
        if code != 0:
            raise StepFailedError(f"Process completed with exit code {code}.")
        return outputs

    def _legacy_command(self, name: str, props: dict[str, str], value: str) -> bool:
        """``::set-output``/``::set-env`` (deprecated, still honoured for old workflows)."""
        if name == "set-output" and "name" in props:
            self._legacy_outputs = {**self._legacy_outputs, props["name"]: value}
            return True
        if name == "add-path":
            self.path_prepend.append(value)
            return True
        if name == "save-state" and "name" in props:
            if self.state is not None:
                self.state[props["name"]] = value
            return True
        return name in ("stop-commands", "echo", "save-state")


@dataclass
class StepScope:
    """The ``steps`` context steps see (the job's, or a composite action's own); for a
    composite's steps, the ``step_key`` and ``step_env`` of the composite action's step."""

    steps: dict[str, Any]
    extra: dict[str, Any]
    key: tuple[int, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
