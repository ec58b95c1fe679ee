"""``uses:`` steps: built-in actions, local and composite actions, actions from a git source.

    dispatch(job_run, step, env, contexts) -> the step's outputs

Built in, for any version tag (``@v2``, ``@v5``, a commit): ``actions/checkout``,
``docker/setup-buildx-action``, ``docker/setup-qemu-action``, ``docker/login-action``,
``docker/metadata-action``, ``docker/build-push-action``. ``./path`` runs the action in the
workspace (composite, or node when installed); other ``owner/repo[/path]@ref`` are cloned from
the actions source (``--actions-source``, a git URL base). Anything else fails saying why and
listing what is built in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cargohold.workflow.job import StepFailedError

if TYPE_CHECKING:
    from cargohold.workflow.job import JobRun
    from cargohold.workflow.model import Step

Builtin = Callable[["JobRun", "Step", Mapping[str, str]], dict[str, str]]


def _builtins() -> dict[str, Builtin]:
    from cargohold.workflow.actions import buildpush, checkout, docker

    return {
        "actions/checkout": checkout.checkout,
        "docker/setup-buildx-action": docker.setup_buildx,
        "docker/setup-qemu-action": docker.setup_qemu,
        "docker/login-action": docker.login,
        "docker/metadata-action": docker.metadata,
        "docker/build-push-action": buildpush.build_push,
    }


BUILTIN_NAMES = (
    "actions/checkout",
    "docker/setup-buildx-action",
    "docker/setup-qemu-action",
    "docker/login-action",
    "docker/metadata-action",
    "docker/build-push-action",
)


def split_uses(uses: str) -> tuple[str, str, str]:
    """``owner/repo/sub/path@ref`` -> (``owner/repo``, ``sub/path``, ``ref``)."""
    target, sep, ref = uses.partition("@")
    if not sep or not ref:
        raise StepFailedError(
            f"uses: {uses!r} needs a version (owner/repo@ref), e.g. actions/checkout@v4"
        )
    parts = target.split("/")
    if len(parts) < 2 or not all(parts):
        raise StepFailedError(f"uses: {uses!r} is not owner/repo[/path]@ref")
    return "/".join(parts[:2]).lower(), "/".join(parts[2:]), ref


def dispatch(
    run: JobRun, step: Step, env: Mapping[str, str], contexts: Mapping[str, Any]
) -> dict[str, str]:
    assert step.uses is not None
    uses = step.uses.strip()
    inputs = {
        k: run.interpolate(v, contexts, step.with_pos.get(k, step.pos))
        for k, v in step.with_.items()
    }
    from cargohold.workflow.actions import external

    if uses.startswith("./") or uses.startswith("../"):
        return external.run_local(run, step, uses, inputs, env)
    if uses.startswith("docker://"):
        raise StepFailedError(
            f"uses: {uses}: container actions need a container runtime, which this runner "
            f"does not use; built in: {', '.join(BUILTIN_NAMES)}"
        )
    repo, sub, ref = split_uses(uses)
    builtin = _builtins().get(repo) if not sub else None
    if builtin is not None:
        run.log.line(f"built-in implementation of {repo} (any version; {ref} requested)")
        return builtin(run, step, inputs)
    return external.run_remote(run, step, repo, sub, ref, inputs, env)
