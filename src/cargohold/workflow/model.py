"""The workflow model and its parser: a GitHub Actions workflow file as frozen values.

    parse(text, "release.yml") -> Workflow(name, triggers, env, permissions, defaults_run,
                                           concurrency, jobs={id: Job(... steps=(Step, ...))})

Expressions (``${{ }}``) are kept as written; the runner evaluates them when it gets there.
Every part carries its ``Pos`` so errors and lint findings point at the line. A malformed file
raises ``WorkflowError`` naming the file, line and column, never anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from cargohold.workflow.source import (
    Pos,
    WorkflowError,
    key_pos,
    load,
    node_pos,
    plain,
    scalar_text,
    value_pos,
)

EVENT_FILTERS = (
    "types",
    "branches",
    "branches-ignore",
    "tags",
    "tags-ignore",
    "paths",
    "paths-ignore",
)
_JOB_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Trigger:
    """One ``on:`` event with its filters (``None`` = filter absent)."""

    event: str
    types: tuple[str, ...] | None = None
    branches: tuple[str, ...] | None = None
    branches_ignore: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    tags_ignore: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None
    paths_ignore: tuple[str, ...] | None = None
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    pos: Pos
    id: str | None = None
    name: str | None = None
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)
    with_pos: dict[str, Pos] = field(default_factory=dict)
    run: str | None = None
    run_pos: Pos | None = None
    env: dict[str, str] = field(default_factory=dict)
    if_: str | None = None
    shell: str | None = None
    working_directory: str | None = None
    continue_on_error: str = "false"
    timeout_minutes: str | None = None

    @property
    def display(self) -> str:
        """The step's title as GitHub shows it: its name, ``Run <uses>`` or ``Run <command>``."""
        if self.name:
            return self.name
        if self.uses:
            return f"Run {self.uses}"
        first = (self.run or "").strip().splitlines()
        return f"Run {first[0]}" if first else f"Step {self.index + 1}"


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    pos: Pos
    name: str | None = None
    needs: tuple[str, ...] = ()
    if_: str | None = None
    runs_on: Any = None
    permissions: Any = None  # None when absent, else str or dict (see permissions.py)
    permissions_pos: Pos | None = None
    env: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    matrix: Any = None  # plain data or an expression string
    fail_fast: bool | str = True  # or an expression the runner evaluates
    max_parallel: int | str | None = None  # a positive number, or an expression
    defaults_run: dict[str, str] = field(default_factory=dict)
    concurrency: Any = None
    timeout_minutes: str | None = None
    continue_on_error: str = "false"
    uses: str | None = None  # a reusable workflow: reported, not run
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True, slots=True)
class Workflow:
    file: str
    text: str
    name: str | None
    triggers: dict[str, Trigger]
    env: dict[str, str] = field(default_factory=dict)
    permissions: Any = None
    permissions_pos: Pos | None = None
    defaults_run: dict[str, str] = field(default_factory=dict)
    concurrency: Any = None
    run_name: str | None = None
    jobs: dict[str, Job] = field(default_factory=dict)


def parse(text: str, file: str = "workflow.yml") -> Workflow:
    """Parse a workflow file; ``WorkflowError`` (with ``file:line:col``) when it is malformed."""
    return _Parser(file).workflow(load(text, file), text)


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file

    # -- helpers --------------------------------------------------------------------------

    def err(self, message: str, pos: Pos) -> WorkflowError:
        return WorkflowError(message, pos)

    def mapping(self, node: Any, where: str, pos: Pos) -> CommentedMap:
        if node is None:
            return CommentedMap()
        if not isinstance(node, CommentedMap):
            raise self.err(f"{where} must be a mapping", pos)
        return node

    def strings(self, node: Any, where: str, pos: Pos) -> tuple[str, ...]:
        if isinstance(node, str):
            return (node,)
        if isinstance(node, CommentedSeq) and all(
            isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in node
        ):
            return tuple(scalar_text(x) for x in node)
        raise self.err(f"{where} must be a string or a list of strings", pos)

    def str_map(self, node: Any, where: str, pos: Pos) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.mapping(node, where, pos).items():
            if isinstance(value, (dict, list)):
                raise self.err(f"{where}.{key} must be a string", value_pos(node, key, self.file))
            out[str(key)] = scalar_text(value)
        return out

    def opt_str(self, node: CommentedMap, key: str) -> str | None:
        if key not in node or node[key] is None:
            return None
        value = node[key]
        if isinstance(value, (dict, list)):
            raise self.err(f"{key} must be a string", value_pos(node, key, self.file))
        return scalar_text(value)

    def check_keys(self, node: CommentedMap, allowed: set[str], where: str) -> None:
        for key in node:
            if str(key) not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.err(
                    f"unexpected key {key!r} in {where} (expected one of: {known})",
                    key_pos(node, key, self.file),
                )

    # -- workflow -------------------------------------------------------------------------

    def workflow(self, root: CommentedMap, text: str) -> Workflow:
        top = node_pos(root, self.file)
        self.check_keys(
            root,
            {"name", "run-name", "on", "env", "permissions", "defaults", "concurrency", "jobs"},
            "the workflow",
        )
        if "on" not in root:
            raise self.err("the workflow has no 'on:' (which events start it?)", top)
        if "jobs" not in root:
            raise self.err("the workflow has no 'jobs:'", top)
        jobs_node = self.mapping(root["jobs"], "jobs", value_pos(root, "jobs", self.file))
        if not jobs_node:
            raise self.err("'jobs:' is empty", value_pos(root, "jobs", self.file))
        jobs = {
            str(k): self.job(str(k), v, key_pos(jobs_node, k, self.file))
            for k, v in jobs_node.items()
        }
        for job in jobs.values():
            for need in job.needs:
                if need not in jobs:
                    raise self.err(f"job {job.id!r} needs unknown job {need!r}", job.pos)
        _check_cycles(jobs)
        return Workflow(
            file=self.file,
            text=text,
            name=self.opt_str(root, "name"),
            run_name=self.opt_str(root, "run-name"),
            triggers=self.triggers(root["on"], value_pos(root, "on", self.file)),
            env=self.str_map(root.get("env"), "env", value_pos(root, "env", self.file)),
            permissions=plain(root.get("permissions")),
            permissions_pos=key_pos(root, "permissions", self.file)
            if "permissions" in root
            else None,
            defaults_run=self.defaults(
                root.get("defaults"), value_pos(root, "defaults", self.file)
            ),
            concurrency=plain(root.get("concurrency")),
            jobs=jobs,
        )

    def triggers(self, node: Any, pos: Pos) -> dict[str, Trigger]:
        if isinstance(node, str):
            return {node: Trigger(node)}
        if isinstance(node, CommentedSeq):
            return {e: Trigger(e) for e in self.strings(node, "on", pos)}
        out: dict[str, Trigger] = {}
        for event, spec in self.mapping(node, "on", pos).items():
            name = str(event)
            where = value_pos(node, event, self.file)
            if spec is None:
                out[name] = Trigger(name)
                continue
            if name == "schedule":
                out[name] = Trigger(name)
                continue
            spec = self.mapping(spec, f"on.{name}", where)
            filters: dict[str, Any] = {}
            for key, value in spec.items():
                k = str(key)
                if k in EVENT_FILTERS:
                    filters[k.replace("-", "_")] = self.strings(
                        value, f"on.{name}.{k}", value_pos(spec, key, self.file)
                    )
                elif k == "inputs" and name in ("workflow_dispatch", "workflow_call"):
                    filters["inputs"] = plain(value) or {}
            out[name] = Trigger(name, **filters)
        return out

    def defaults(self, node: Any, pos: Pos) -> dict[str, str]:
        node = self.mapping(node, "defaults", pos)
        run = node.get("run")
        return self.str_map(run, "defaults.run", value_pos(node, "run", self.file)) if run else {}

    # -- jobs -----------------------------------------------------------------------------

    def job(self, job_id: str, node: Any, pos: Pos) -> Job:
        if not _JOB_ID.match(job_id):
            raise self.err(
                f"job id {job_id!r} must start with a letter or _ and hold only letters, "
                "digits, - and _",
                pos,
            )
        node = self.mapping(node, f"job {job_id!r}", pos)
        self.check_keys(
            node,
            {
                "name",
                "needs",
                "if",
                "runs-on",
                "permissions",
                "env",
                "outputs",
                "strategy",
                "steps",
                "defaults",
                "concurrency",
                "timeout-minutes",
                "continue-on-error",
                "environment",
                "container",
                "services",
                "uses",
                "with",
                "secrets",
            },
            f"job {job_id!r}",
        )
        f = self.file
        needs = (
            self.strings(node["needs"], "needs", value_pos(node, "needs", f))
            if node.get("needs") is not None
            else ()
        )
        strategy = self.mapping(node.get("strategy"), "strategy", value_pos(node, "strategy", f))
        steps_node = node.get("steps")
        if node.get("uses") is None and steps_node is None:
            raise self.err(f"job {job_id!r} has no steps", pos)
        steps: list[Step] = []
        if steps_node is not None:
            if not isinstance(steps_node, CommentedSeq):
                raise self.err("steps must be a list", value_pos(node, "steps", f))
            seen: set[str] = set()
            for i, item in enumerate(steps_node):
                step = self.step(i, item, value_pos(steps_node, i, f))
                if step.id:
                    if step.id in seen:
                        raise self.err(f"step id {step.id!r} is used twice", step.pos)
                    seen.add(step.id)
                steps.append(step)
        max_parallel = self.max_parallel(strategy)
        fail_fast = strategy.get("fail-fast", True)
        if not isinstance(fail_fast, bool) and not _is_expression(fail_fast):
            raise self.err(
                f"strategy.fail-fast must be true, false or an expression, not {fail_fast!r}",
                value_pos(strategy, "fail-fast", f),
            )
        return Job(
            id=job_id,
            pos=pos,
            name=self.opt_str(node, "name"),
            needs=needs,
            if_=self.opt_str(node, "if"),
            runs_on=plain(node.get("runs-on")),
            permissions=plain(node.get("permissions")),
            permissions_pos=key_pos(node, "permissions", f) if "permissions" in node else None,
            env=self.str_map(node.get("env"), "env", value_pos(node, "env", f)),
            outputs=self.str_map(node.get("outputs"), "outputs", value_pos(node, "outputs", f)),
            matrix=plain(strategy.get("matrix")),
            fail_fast=fail_fast,
            max_parallel=max_parallel,
            defaults_run=self.defaults(node.get("defaults"), value_pos(node, "defaults", f)),
            concurrency=plain(node.get("concurrency")),
            timeout_minutes=self.opt_str(node, "timeout-minutes"),
            continue_on_error=self.opt_str(node, "continue-on-error") or "false",
            uses=self.opt_str(node, "uses"),
            steps=tuple(steps),
        )

    def max_parallel(self, strategy: CommentedMap) -> int | str | None:
        value = strategy.get("max-parallel")
        if value is None:
            return None
        if isinstance(value, str) and _is_expression(value):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        raise self.err(
            f"strategy.max-parallel must be a positive whole number or an expression, "
            f"not {value!r}",
            value_pos(strategy, "max-parallel", self.file),
        )

    def step(self, index: int, node: Any, pos: Pos) -> Step:
        node = self.mapping(node, f"step {index + 1}", pos)
        self.check_keys(
            node,
            {
                "id",
                "name",
                "uses",
                "with",
                "run",
                "env",
                "if",
                "shell",
                "working-directory",
                "continue-on-error",
                "timeout-minutes",
            },
            f"step {index + 1}",
        )
        f = self.file
        uses, run = self.opt_str(node, "uses"), self.opt_str(node, "run")
        if (uses is None) == (run is None):
            raise self.err(f"step {index + 1} must have exactly one of 'uses' or 'run'", pos)
        with_node = node.get("with")
        with_ = self.str_map(with_node, "with", value_pos(node, "with", f))
        with_pos = {k: value_pos(with_node, k, f) for k in with_} if with_node else {}
        return Step(
            index=index,
            pos=pos,
            id=self.opt_str(node, "id"),
            name=self.opt_str(node, "name"),
            uses=uses,
            with_=with_,
            with_pos=with_pos,
            run=run,
            run_pos=value_pos(node, "run", f) if run is not None else None,
            env=self.str_map(node.get("env"), "env", value_pos(node, "env", f)),
            if_=self.opt_str(node, "if"),
            shell=self.opt_str(node, "shell"),
            working_directory=self.opt_str(node, "working-directory"),
            continue_on_error=self.opt_str(node, "continue-on-error") or "false",
            timeout_minutes=self.opt_str(node, "timeout-minutes"),
        )


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${{" in value


def _check_cycles(jobs: dict[str, Job]) -> None:
    state: dict[str, int] = {}

    def visit(job_id: str, path: tuple[str, ...]) -> None:
        if state.get(job_id) == 2:
            return
        if state.get(job_id) == 1:
            cycle = " -> ".join((*path, job_id))
            raise WorkflowError(f"jobs depend on each other in a cycle: {cycle}", jobs[job_id].pos)
        state[job_id] = 1
        for need in jobs[job_id].needs:
            visit(need, (*path, job_id))
        state[job_id] = 2

    for job_id in jobs:
        visit(job_id, ())


def job_order(workflow: Workflow) -> list[str]:
    """Job ids in an order where every job comes after the jobs it needs (file order kept)."""
    done: list[str] = []
    pending = list(workflow.jobs)
    while pending:
        for job_id in pending:
            if all(n in done for n in workflow.jobs[job_id].needs):
                done.append(job_id)
                pending.remove(job_id)
                break
    return done
