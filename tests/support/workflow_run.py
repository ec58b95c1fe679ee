"""Running a workflow in tests without a registry: a fake job-token issuer and ``run_text``.

Job tokens come from an in-memory issuer that records what it was asked; steps run in real
shells in a temporary work directory.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from cargohold.workflow.events import EventSpec, github_context, make_event
from cargohold.workflow.log import Log
from cargohold.workflow.model import parse
from cargohold.workflow.runner import RunEnv, RunResult, run_workflow
from cargohold.workflow.tokens import JobToken, TokenError

DEFAULTS = {
    "restricted": {"packages": "read", "contents": "read", "metadata": "read"},
    "permissive": {"packages": "write", "contents": "write", "metadata": "read"},
}


class FakeIssuer:
    """Mints fake job tokens, remembering the permissions asked for; revocations recorded."""

    def __init__(self, owner_default: str = "restricted", fail: bool = False) -> None:
        self.owner_default = owner_default
        self.fail = fail
        self.minted: list[tuple[str, dict[str, str] | None, bool]] = []
        self.revoked: list[str] = []
        self.secrets: list[str] = []

    def mint(
        self, repository: str, permissions: dict[str, str] | None, *, run_id: str, fork: bool
    ) -> JobToken:
        if self.fail:
            raise TokenError("minting a job token failed (401): unauthenticated: bad runner")
        self.minted.append((repository, permissions, fork))
        n = len(self.minted)
        secret = f"chj_job{n:03d}" + "Q" * 30
        granted = permissions if permissions is not None else DEFAULTS[self.owner_default]
        self.secrets.append(secret)
        return JobToken(secret[:10], secret, repository, dict(granted), "2030-01-01T00:00:00Z")

    def revoke(self, token_id: str) -> None:
        self.revoked.append(token_id)


def run_text(
    text: str,
    tmp_path: Path,
    *,
    issuer: FakeIssuer | None = None,
    event: str = "push",
    context: Path | None = None,
    **renv: Any,
) -> tuple[RunResult, str, FakeIssuer]:
    workflow = parse(text, "wf.yml")
    spec = EventSpec(name=event, repository="acme/shop", actor="alice", tag="v1.2.3")
    ev = make_event(spec)
    out = io.StringIO()
    issuer = issuer or FakeIssuer()
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    ctx_dir = context or tmp_path / "checkout"
    ctx_dir.mkdir(exist_ok=True)
    env = RunEnv(
        event=ev,
        context_dir=ctx_dir,
        work_root=work,
        issuer=issuer,
        log=Log(out=out),
        run_id="7",
        **renv,
    )
    env.github = github_context(ev, workspace=str(work), run_id="7", workflow_name="wf")
    result = run_workflow(workflow, env)
    return result, out.getvalue(), issuer
