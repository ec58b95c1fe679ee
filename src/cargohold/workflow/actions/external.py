"""Actions that are not built in: ``./path`` in the workspace, or ``owner/repo@ref`` cloned.

An action directory holds ``action.yml`` (or ``action.yaml``). ``runs.using: composite`` runs
its steps here, with its own ``steps`` context and ``inputs`` (defaults applied), its step's
``env`` seen by them; ``node*`` runs ``runs.main`` with node when it is installed (inputs as
``INPUT_<NAME>``), its ``runs.pre`` before the job's first step (``run_pre_steps``; remote
actions only, as on GitHub, where a local action is not checked out yet when the job starts)
and its ``runs.post`` after the job's last step (registered when the main step starts;
``post-if``/``pre-if`` default to ``always()``); the three share the action's state
(``GITHUB_STATE`` -> ``STATE_<name>``). The pre and post of actions a composite action uses
are grouped in a ``Pre``/``Post`` step of the composite (``job.Phase``), as GitHub does.
``docker`` actions fail (no container runtime is used). Remote actions are cloned with
``git clone --depth 1 --branch REF <actions source>/<owner>/<repo>`` (the source is a git URL
base, ``https://github.com`` unless ``--actions-source`` says otherwise).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cargohold.workflow.interrupt import Interrupted
from cargohold.workflow.job import Phase, StepFailedError, StepScope
from cargohold.workflow.model import _Parser
from cargohold.workflow.source import WorkflowError, load, plain, scalar_text

if TYPE_CHECKING:
    from cargohold.workflow.job import JobRun
    from cargohold.workflow.model import Step


def run_local(
    run: JobRun, step: Step, uses: str, inputs: Mapping[str, str], env: Mapping[str, str]
) -> dict[str, str]:
    directory = (run.workspace / uses).resolve()
    if run.workspace.resolve() not in (directory, *directory.parents):
        raise StepFailedError(f"uses: {uses}: a local action must be inside the workspace")
    if not directory.is_dir():
        raise StepFailedError(
            f"uses: {uses}: no such directory in the workspace {run.workspace} "
            "(did a checkout step run before it?)"
        )
    return run_action_dir(run, step, directory, uses, inputs, env)


def run_remote(
    run: JobRun,
    step: Step,
    repo: str,
    sub: str,
    ref: str,
    inputs: Mapping[str, str],
    env: Mapping[str, str],
) -> dict[str, str]:
    directory = fetch_remote(run, repo, sub, ref)
    return run_action_dir(run, step, directory, f"{repo}@{ref}", inputs, env)


# GitHub's limit on composite actions using composite actions (its runner's constant).
MAX_DEPTH = 9
_FETCH_LOCK = threading.Lock()  # matrix jobs running side by side share the clone


def fetch_remote(run: JobRun, repo: str, sub: str, ref: str) -> Path:
    """The directory of ``repo[/sub]@ref``, cloned from the actions source once per run."""
    with _FETCH_LOCK:
        cache = _fetch(run, repo, ref)
    return cache / sub if sub else cache


def _fetch(run: JobRun, repo: str, ref: str) -> Path:
    from cargohold.workflow.actions import BUILTIN_NAMES

    source = run.renv.actions_source.rstrip("/")
    cache = run.renv.work_root / "_actions" / repo.replace("/", "_") / ref
    if not cache.exists():
        url = f"{source}/{repo}"
        git = shutil.which("git")
        if git is None:
            raise StepFailedError(f"uses: {repo}@{ref}: git is not installed to fetch it")
        run.log.line(f"Download action repository '{repo}@{ref}' from {url}")
        cache.parent.mkdir(parents=True, exist_ok=True)
        # Cloned beside the cache and renamed: a clone stopped half-way (the step's timeout,
        # the job's cancellation) must not pass for the action next time.
        partial = Path(tempfile.mkdtemp(prefix=".clone-", dir=cache.parent))
        try:
            code, _, err = run.call(
                [git, "clone", "--quiet", "--depth", "1", "--branch", ref, url, str(partial)]
            )
            if code != 0:
                raise StepFailedError(
                    f"uses: {repo}@{ref}: cannot fetch it from {url} "
                    f"({err.strip().splitlines()[-1] if err.strip() else 'git failed'}"
                    f"); built in: {', '.join(BUILTIN_NAMES)}; others come from --actions-source"
                )
            partial.rename(cache)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return cache


def load_action(directory: Path, label: str) -> tuple[Any, dict[str, Any]]:
    """The action.yml (or action.yaml) of ``directory``: its YAML node and plain data."""
    manifest = next(
        (directory / n for n in ("action.yml", "action.yaml") if (directory / n).is_file()), None
    )
    if manifest is None:
        raise StepFailedError(f"uses: {label}: no action.yml in {directory}")
    try:
        node = load(manifest.read_text(), str(manifest))
    except WorkflowError as exc:
        raise StepFailedError(f"uses: {label}: {exc}") from exc
    spec = plain(node)
    if not isinstance(spec, dict):
        raise StepFailedError(f"uses: {label}: {manifest.name} is not a mapping")
    return node, spec


def action_inputs(
    run: JobRun,
    step: Step,
    spec: Mapping[str, Any],
    inputs: Mapping[str, str],
    ctx: Mapping[str, Any],
    *,
    warn: bool = True,
) -> dict[str, str]:
    """The inputs an action sees: ``with:`` values, then the declared defaults."""
    declared = spec.get("inputs") or {}
    if not isinstance(declared, dict):
        raise StepFailedError(f"uses: {step.uses}: the action's inputs must be a mapping")
    values: dict[str, str] = {}
    for name, meta in declared.items():
        meta = meta if isinstance(meta, dict) else {}
        if name in inputs:
            values[name] = inputs[name]
        elif "default" in meta:
            values[name] = run.interpolate(scalar_text(meta["default"]), ctx, step.pos)
        elif meta.get("required") and warn:
            run.log.line(f"##[warning]Input required and not supplied: {name}")
    for name in inputs:
        if name not in declared:
            if warn:
                run.log.line(
                    f"##[warning]Unexpected input '{name}', valid inputs are {list(declared)}"
                )
            values[name] = inputs[name]
    return values


def run_action_dir(
    run: JobRun,
    step: Step,
    directory: Path,
    label: str,
    inputs: Mapping[str, str],
    env: Mapping[str, str],
) -> dict[str, str]:
    node, spec = load_action(directory, label)
    runs = spec.get("runs") or {}
    if not isinstance(runs, dict):
        raise StepFailedError(f"uses: {label}: the action's runs must be a mapping")
    using = str(runs.get("using", ""))
    values = action_inputs(run, step, spec, inputs, run.contexts(env=env))
    if using == "composite":
        if len(run.step_key) > MAX_DEPTH:
            raise StepFailedError(f"Composite action depth exceeded max depth {MAX_DEPTH}")
        if label.startswith(".") and _uses_pre(run, node, directory, len(run.step_key)):
            # GitHub reads a local action only when its step runs, too late for a pre.
            run.log.line(
                f"##[warning]`pre` execution is not supported for local action from '{label}'"
            )
        title = run.interpolate(step.display, run.contexts(env=env), step.pos)
        group = Phase(step, f"Post {title}", "always()", lifo=True, parent=run.post_group)
        saved, run.post_group = run.post_group, group
        try:
            return _composite(run, node, spec, directory, values, label)
        finally:
            run.post_group = saved
    if using.startswith("node"):
        return _node(run, step, directory, runs, values, env, label)
    raise StepFailedError(
        f"uses: {label}: 'runs.using: {using}' cannot run here (composite and node actions "
        "can; container actions need a container runtime)"
    )


def _composite(
    run: JobRun,
    node: Any,
    spec: Mapping[str, Any],
    directory: Path,
    inputs: Mapping[str, str],
    label: str,
) -> dict[str, str]:
    scope = StepScope({}, {"inputs": dict(inputs)}, run.step_key, dict(run.step_env))
    saved_status = run.status
    for step in composite_steps(node, directory):
        if step.run is not None and not step.shell:
            raise StepFailedError(f"uses: {label}: composite run steps need 'shell:'")
        result = run.run_step(step, scope)
        if result.conclusion == "failure":
            run.status = "failure"
            run.signal.check()  # stopped by its own timeout: say that, as for any step
            raise StepFailedError(f"uses: {label}: step {result.title!r} failed")
    run.status = saved_status
    ctx = run.contexts(steps=scope.steps, inputs=dict(inputs))
    outputs: dict[str, str] = {}
    for name, meta in (spec.get("outputs") or {}).items():
        value = meta.get("value", "") if isinstance(meta, dict) else ""
        outputs[name] = run.interpolate(scalar_text(value), ctx, None)
    return outputs


def composite_steps(node: Any, directory: Path) -> list[Step]:
    """The steps of a composite action's ``action.yml`` (its YAML ``node``)."""
    parser = _Parser(str(directory / "action.yml"))
    steps_node = node["runs"].get("steps") or []
    return [
        parser.step(i, item, parser_pos(parser, steps_node, i)) for i, item in enumerate(steps_node)
    ]


def parser_pos(parser: _Parser, seq: Any, index: int) -> Any:
    from cargohold.workflow.source import value_pos

    return value_pos(seq, index, parser.file)


def _node(
    run: JobRun,
    step: Step,
    directory: Path,
    runs: Mapping[str, Any],
    inputs: Mapping[str, str],
    env: Mapping[str, str],
    label: str,
) -> dict[str, str]:
    node = shutil.which("node")
    if node is None:
        raise StepFailedError(f"uses: {label}: a node action, and node is not installed")
    main = runs.get("main")
    if not isinstance(main, str):
        raise StepFailedError(f"uses: {label}: runs.main is missing")
    if runs.get("pre") and label.startswith("."):
        run.log.line(f"##[warning]`pre` execution is not supported for local action from '{label}'")
    step_env = _input_env(env, inputs)
    state = run.action_states.setdefault(run.step_key, {})
    post = runs.get("post")
    if isinstance(post, str) and post.strip():
        # Registered before main runs: a failing main still gets its post (post-if: always()).
        title = run.interpolate(step.display, run.contexts(env=env), step.pos)
        condition = scalar_text(runs.get("post-if") or "always()")
        argv = [node, str(directory / post)]
        run.register_post(Phase(step, f"Post {title}", condition, argv, step_env, state))
    saved, run.state = run.state, state
    try:
        proc_env = {**step_env, **{f"STATE_{k}": v for k, v in state.items()}}
        return run.run_argv([node, str(directory / main)], run.workspace, proc_env)
    finally:
        run.state = saved


def _input_env(env: Mapping[str, str], inputs: Mapping[str, str]) -> dict[str, str]:
    step_env = dict(env)
    for name, value in inputs.items():
        step_env[f"INPUT_{name.replace(' ', '_').upper()}"] = value
    return step_env


def run_pre_steps(run: JobRun) -> None:
    """Before the job's first step: the ``pre`` of each action the job's steps use, in step
    order, as GitHub runs them at job set-up. A remote node action's ``pre`` script runs when
    its ``pre-if`` (default ``always()``) holds; a remote composite action has a pre step
    when actions it uses (remote ones, at any depth) have a ``pre``: it runs theirs, in their
    order, each when its ``pre-if`` holds, with the composite's ``inputs`` (GitHub's runner
    since actions/runner#1222). A step's own ``if`` is not consulted; there is no ``steps``
    context yet. An action that cannot be fetched or read is left to its main step to report.
    """
    for step in run.job.steps:
        env = _step_env(run, step, run.env, {"steps": {}})
        phase = _pre_phase(run, step, (step.index,), env, {"steps": {}})
        if phase is not None:
            run.run_phase(phase)


def _step_env(
    run: JobRun, step: Step, base: Mapping[str, str], extra: Mapping[str, Any]
) -> dict[str, str]:
    env = dict(base)
    for key, value in step.env.items():
        env[key] = run.interpolate(value, run.contexts(env=env, **extra), step.pos)
    return env


def _remote_action(run: JobRun, step: Step) -> tuple[Any, dict[str, Any], Path] | None:
    """The action.yml (node, data) and directory of a remote, not built-in ``uses:`` step;
    None for other steps and for actions that cannot be fetched or read."""
    from cargohold.workflow.actions import BUILTIN_NAMES, split_uses

    uses = (step.uses or "").strip()
    if not uses or uses.startswith((".", "docker://")):
        return None
    try:
        repo, sub, ref = split_uses(uses)
        if repo in BUILTIN_NAMES and not sub:
            return None
        directory = fetch_remote(run, repo, sub, ref)
        node, spec = load_action(directory, f"{repo}@{ref}")
    except (StepFailedError, Interrupted):
        return None  # left to its main step (skipped when the job was cancelled)
    return node, spec, directory


def _pre_phase(
    run: JobRun,
    step: Step,
    key: tuple[int, ...],
    env: dict[str, str],
    extra: dict[str, Any],
) -> Phase | None:
    """The pre step of ``step`` (at ``key``), with ``env`` and the contexts ``extra`` of where
    it is used; None when it has none."""
    found = _remote_action(run, step)
    if found is None:
        return None
    node, spec, directory = found
    runs = spec.get("runs") or {}
    if not isinstance(runs, dict):
        return None
    using = str(runs.get("using", ""))
    ctx = run.contexts(env=env, **extra)
    given = {
        k: run.interpolate(v, ctx, step.with_pos.get(k, step.pos)) for k, v in step.with_.items()
    }
    try:
        values = action_inputs(run, step, spec, given, ctx, warn=False)
    except StepFailedError:
        return None  # its main step fails saying why
    title = run.interpolate(step.display, ctx, step.pos)
    if using == "composite":
        if len(key) > MAX_DEPTH:
            return None  # its main step fails saying why
        inner = {"inputs": values, "steps": {}}
        try:
            nested = composite_steps(node, directory)
        except WorkflowError:
            return None
        children = []
        for sub in nested:
            sub_env = _step_env(run, sub, env, inner)
            child = _pre_phase(run, sub, (*key, sub.index), sub_env, inner)
            if child is not None:
                children.append(child)
        if not children:
            return None
        return Phase(step, f"Pre {title}", "always()", children=children, extra=extra)
    pre = runs.get("pre")
    node_bin = shutil.which("node")
    if not using.startswith("node") or not isinstance(pre, str) or not pre.strip():
        return None
    if node_bin is None:
        return None
    state = run.action_states.setdefault(key, {})
    condition = scalar_text(runs.get("pre-if") or "always()")
    argv = [node_bin, str(directory / pre)]
    return Phase(step, f"Pre {title}", condition, argv, _input_env(env, values), state, extra)


def _uses_pre(run: JobRun, node: Any, directory: Path, depth: int) -> bool:
    """Whether a composite action uses, through remote actions, one with a ``pre``."""
    if depth > MAX_DEPTH:
        return False
    try:
        nested = composite_steps(node, directory)
    except WorkflowError:
        return False
    for sub in nested:
        found = _remote_action(run, sub)
        if found is None:
            continue
        sub_node, spec, sub_dir = found
        runs = spec.get("runs") or {}
        if not isinstance(runs, dict):
            continue
        using = str(runs.get("using", ""))
        if using.startswith("node") and isinstance(runs.get("pre"), str) and runs["pre"].strip():
            return True
        if using == "composite" and _uses_pre(run, sub_node, sub_dir, depth + 1):
            return True
    return False
