"""Actions that are not built in: ``./path`` in the workspace, or ``owner/repo@ref`` cloned.

An action directory holds ``action.yml`` (or ``action.yaml``). ``runs.using: composite`` runs
its steps here, with its own ``steps`` context and ``inputs`` (defaults applied); ``node*``
runs ``runs.main`` with node when it is installed (inputs as ``INPUT_<NAME>``); ``docker``
actions fail (no container runtime is used). Remote actions are cloned with
``git clone --depth 1 --branch REF <actions source>/<owner>/<repo>`` (the source is a git URL
base, ``https://github.com`` unless ``--actions-source`` says otherwise).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cargohold.workflow.job import StepFailedError, StepScope
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
    from cargohold.workflow.actions import BUILTIN_NAMES

    source = run.renv.actions_source.rstrip("/")
    cache = run.renv.work_root / "_actions" / repo.replace("/", "_") / ref
    if not cache.exists():
        url = f"{source}/{repo}"
        git = shutil.which("git")
        if git is None:
            raise StepFailedError(f"uses: {repo}@{ref}: git is not installed to fetch it")
        run.log.line(f"Download action repository '{repo}@{ref}' from {url}")
        proc = subprocess.run(
            [git, "clone", "--quiet", "--depth", "1", "--branch", ref, url, str(cache)],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if proc.returncode != 0:
            raise StepFailedError(
                f"uses: {repo}@{ref}: cannot fetch it from {url} "
                f"({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'git failed'}"
                f"); built in: {', '.join(BUILTIN_NAMES)}; others come from --actions-source"
            )
    directory = cache / sub if sub else cache
    return run_action_dir(run, step, directory, f"{repo}@{ref}", inputs, env)


def run_action_dir(
    run: JobRun,
    step: Step,
    directory: Path,
    label: str,
    inputs: Mapping[str, str],
    env: Mapping[str, str],
) -> dict[str, str]:
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
    runs = spec.get("runs") or {}
    using = str(runs.get("using", ""))
    declared = spec.get("inputs") or {}
    values: dict[str, str] = {}
    ctx = run.contexts(env=env)
    for name, meta in declared.items():
        meta = meta if isinstance(meta, dict) else {}
        if name in inputs:
            values[name] = inputs[name]
        elif "default" in meta:
            values[name] = run.interpolate(scalar_text(meta["default"]), ctx, step.pos)
        elif meta.get("required"):
            run.log.line(f"##[warning]Input required and not supplied: {name}")
    for name in inputs:
        if name not in declared:
            run.log.line(f"##[warning]Unexpected input '{name}', valid inputs are {list(declared)}")
            values[name] = inputs[name]
    if using == "composite":
        return _composite(run, node, runs, spec, directory, values, label)
    if using.startswith("node"):
        return _node(run, directory, runs, values, env, label)
    raise StepFailedError(
        f"uses: {label}: 'runs.using: {using}' cannot run here (composite and node actions "
        "can; container actions need a container runtime)"
    )


def _composite(
    run: JobRun,
    node: Any,
    runs: Mapping[str, Any],
    spec: Mapping[str, Any],
    directory: Path,
    inputs: Mapping[str, str],
    label: str,
) -> dict[str, str]:
    parser = _Parser(str(directory / "action.yml"))
    steps_node = node["runs"].get("steps") or []
    scope = StepScope({}, {"inputs": dict(inputs)})
    saved_status = run.status
    for i, item in enumerate(steps_node):
        step = parser.step(i, item, parser_pos(parser, steps_node, i))
        if step.run is not None and not step.shell:
            raise StepFailedError(f"uses: {label}: composite run steps need 'shell:'")
        result = run.run_step(step, scope)
        if result.conclusion == "failure":
            run.status = "failure"
            raise StepFailedError(f"uses: {label}: step {result.title!r} failed")
    run.status = saved_status
    ctx = run.contexts(steps=scope.steps, inputs=dict(inputs))
    outputs: dict[str, str] = {}
    for name, meta in (spec.get("outputs") or {}).items():
        value = meta.get("value", "") if isinstance(meta, dict) else ""
        outputs[name] = run.interpolate(scalar_text(value), ctx, None)
    return outputs


def parser_pos(parser: _Parser, seq: Any, index: int) -> Any:
    from cargohold.workflow.source import value_pos

    return value_pos(seq, index, parser.file)


def _node(
    run: JobRun,
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
    for phase in ("pre", "post"):
        if runs.get(phase):
            run.log.line(f"({label}: its {phase} script is not run by this runner)")
    step_env = dict(env)
    for name, value in inputs.items():
        step_env[f"INPUT_{name.replace(' ', '_').upper()}"] = value
    return run.run_argv([node, str(directory / main)], run.workspace, step_env, None)
