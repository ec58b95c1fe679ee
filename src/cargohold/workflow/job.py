"""One job run: its token, workspace, contexts and steps.

    run = JobRun(env=..., job=..., matrix={...}, token=..., log=...)
    run.execute() -> JobResult (outcome, step results, outputs, pushed images)

Steps run in order; a step's ``if`` (with the implicit ``success()``) sees the job status so
far; a failing step with ``continue-on-error`` has outcome failure and conclusion success.
``run:`` steps go to a shell with GitHub's file commands (``GITHUB_ENV``, ``GITHUB_OUTPUT``,
``GITHUB_PATH``, ``GITHUB_STEP_SUMMARY``) and workflow commands on stdout; ``uses:`` steps go
to ``actions.dispatch``. Every line printed goes through the log's masks.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cargohold.workflow import expressions
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


class StepFailedError(Exception):
    """A step failed; the message is what the log shows as ``##[error]``."""


@dataclass
class StepResult:
    step: Step
    title: str
    outcome: str  # success, failure, skipped
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
    outcome: str
    seconds: float
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    pushed: list[PushedImage] = field(default_factory=list)
    error: str | None = None


def truthy_text(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


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
            "strategy": {
                "fail-fast": self.job.fail_fast,
                "job-index": 0,
                "job-total": 1,
                "max-parallel": self.job.max_parallel or 1,
            },
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
        try:
            base_env = dict(self.renv.workflow_env)
            job_ctx = self.contexts(env=base_env)
            for key, value in self.job.env.items():
                base_env[key] = self.interpolate(value, job_ctx, self.job.pos)
            self.env = base_env
            for step in self.job.steps:
                self.run_step(step)
            outputs = self.job_outputs()
        except WorkflowError as exc:
            error = str(exc)
            self.log.error(error)
            self.status = "failure"
            outputs = {}
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

    def job_outputs(self) -> dict[str, str]:
        ctx = self.contexts()
        return {k: self.interpolate(v, ctx, self.job.pos) for k, v in self.job.outputs.items()}

    def run_step(self, step: Step, scope: StepScope | None = None) -> StepResult:
        scope = scope or StepScope(self.steps_ctx, {})
        started = time.monotonic()
        env = dict(self.env)
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
        ctx = self.contexts(env=env, steps=scope.steps, **scope.extra)
        self.log.group(title)
        outputs: dict[str, str] = {}
        outcome = "success"
        try:
            if step.run is not None:
                outputs = self.run_shell(step, env, ctx)
            else:
                from cargohold.workflow.actions import dispatch

                outputs = dispatch(self, step, env, ctx)
        except StepFailedError as exc:
            self.log.error(str(exc))
            outcome = "failure"
        except WorkflowError as exc:
            self.log.error(str(exc))
            outcome = "failure"
        self.log.endgroup()
        coe = self.interpolate(step.continue_on_error, ctx, step.pos)
        conclusion = outcome
        if outcome == "failure":
            if truthy_text(coe):
                conclusion = "success"
                self.log.line(f"(continue-on-error: the job goes on after {title!r} failed)")
            else:
                self.status = "failure"
        result = StepResult(step, title, outcome, conclusion, time.monotonic() - started, outputs)
        self._record(step, result, scope)
        return result

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
        timeout = None
        if step.timeout_minutes:
            minutes = self.interpolate(step.timeout_minutes, ctx, step.pos)
            try:
                timeout = float(minutes) * 60
            except ValueError as exc:
                raise StepFailedError(f"timeout-minutes {minutes!r} is not a number") from exc
        return self.run_script(script, shell, cwd, env, timeout)

    def run_script(
        self,
        script: str,
        shell: str,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float | None,
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
        return self.run_argv(argv, cwd, env, timeout)

    def run_argv(
        self, argv: list[str], cwd: Path, env: Mapping[str, str], timeout: float | None
    ) -> dict[str, str]:
        """Run a process with the step's environment and file commands; its outputs."""
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
            )
        except OSError as exc:
            raise StepFailedError(f"cannot start shell {argv[0]!r}: {exc}") from exc
        timer = None
        timed_out = threading.Event()
        if timeout is not None:

            def kill() -> None:
                timed_out.set()
                proc.kill()

            timer = threading.Timer(timeout, kill)
            timer.start()
        try:
            # ``with proc`` closes the pipe and reaps the child even when logging raises.
            with proc:
                assert proc.stdout is not None
                for line in proc.stdout:
                    self.log.step_output(line, self._legacy_command)
                code = proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
        outputs = self.collect(files)
        outputs.update(self._legacy_outputs)
        self._legacy_outputs = {}
        if timed_out.is_set():
            raise StepFailedError(f"The step has timed out after {timeout:.0f} s")
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
        return name in ("stop-commands", "echo", "save-state")


@dataclass
class StepScope:
    """The ``steps`` context steps see (the job's, or a composite action's own)."""

    steps: dict[str, Any]
    extra: dict[str, Any]
