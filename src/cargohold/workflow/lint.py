"""``cargohold workflow lint``: predict, without running, which pushes the registry will refuse.

    findings = lint(workflow, LintOptions(repository="acme/shop", access=...))
    render(findings, "text")   # release.yml:30:9: error: push of ... would be denied: ...

For each job and each ``docker/build-push-action`` step that pushes:

1. the job token's permissions (``permissions.effective``): without ``packages: write`` the
   token gate refuses (``installation not allowed to Write|Create organization package``);
2. the credential: the ``docker/login-action`` step for the tag's registry, job token
   (``secrets.GITHUB_TOKEN`` / ``github.token``) or another secret (a PAT: not predicted);
3. the image names, with the expressions resolved for the event (``docker/metadata-action``
   steps are simulated): upper case, unresolvable expressions, a namespace the repository
   cannot create in;
4. asking the registry (``AccessSource``): does the repository hold ``write`` on the package,
   or may its jobs create it?

Each finding carries the explanation and the fix a denial would give, with its position.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cargohold.workflow import expressions
from cargohold.workflow import permissions as perms
from cargohold.workflow.access import AccessSource, PackageAccess
from cargohold.workflow.events import EVENTS, Event, EventSpec, github_context, make_event
from cargohold.workflow.metadata import MetaContext, MetadataError, MetaInputs, compute
from cargohold.workflow.model import Job, Step, Workflow
from cargohold.workflow.refs import Aliases, ImageRef, ReferenceError, parse_reference
from cargohold.workflow.runner import expand_matrix
from cargohold.workflow.source import Pos

ROLE_RANK = {"none": 0, "read": 1, "write": 2, "admin": 3}
_UNKNOWN_CONTEXTS = re.compile(
    r"\b(secrets|vars|inputs|needs|steps|matrix)\s*(?:\.|\[)\s*'?([\w-]*)"
)
_JOB_TOKEN = re.compile(r"secrets\.GITHUB_TOKEN|github\.token", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Finding:
    pos: Pos
    severity: str  # error, warning, notice
    code: str
    message: str
    fix: str | None = None
    image: str | None = None

    def text(self) -> str:
        fix = f". Fix: {self.fix}" if self.fix else ""
        return f"{self.pos}: {self.severity}: {self.message}{fix}"

    def github(self) -> str:
        body = (self.message + (f". Fix: {self.fix}" if self.fix else "")).replace("%", "%25")
        body = body.replace("\r", "%0D").replace("\n", "%0A")
        p = self.pos
        return (
            f"::{self.severity} file={p.file},line={p.line},col={p.col},title={self.code}::{body}"
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pos"] = {"file": self.pos.file, "line": self.pos.line, "col": self.pos.col}
        return data


@dataclass
class LintOptions:
    repository: str
    access: AccessSource | None = None
    event: str | None = None
    tag: str = "v0.0.0"
    aliases: Aliases = field(default_factory=lambda: Aliases({}))
    owner_default: str | None = None


def render(findings: list[Finding], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([f.as_dict() for f in findings], indent=2)
    if fmt == "github":
        return "\n".join(f.github() for f in findings)
    lines = [f.text() for f in findings]
    errors = sum(1 for f in findings if f.severity == "error")
    lines.append(
        f"{errors} push{'es' if errors != 1 else ''} would fail"
        if errors
        else "no push would be refused"
    )
    return "\n".join(lines)


def _event(workflow: Workflow, options: LintOptions) -> Event:
    name = options.event or next((e for e in workflow.triggers if e in EVENTS), "push")
    return make_event(
        EventSpec(
            name=name,
            repository=options.repository,
            actor=options.repository.split("/")[0],
            tag=options.tag,
        )
    )


def lint(workflow: Workflow, options: LintOptions) -> list[Finding]:
    event = _event(workflow, options)
    github = github_context(
        event, workspace="/workspace", run_id="1", workflow_name=workflow.name or ""
    )
    findings: list[Finding] = []
    base = {"github": github, "secrets": {}, "vars": {}, "inputs": {}, "env": {}}
    wf_env = {k: _resolve(v, base)[0] for k, v in workflow.env.items()}
    for job in workflow.jobs.values():
        findings.extend(_JobLint(workflow, job, options, event, github, wf_env).run())
    return findings


def _resolve(template: str, ctx: Mapping[str, Any]) -> tuple[str, list[str]]:
    """(value, unresolvable references): secrets, vars, needs ... are unknown before a run."""
    unknown = [
        f"{m.group(1)}.{m.group(2)}"
        for m in _UNKNOWN_CONTEXTS.finditer(template)
        if not _known(m.group(1), m.group(2), ctx)
    ]
    try:
        return expressions.interpolate(template, ctx), unknown
    except expressions.ExpressionError as exc:
        return "", [*unknown, str(exc)]


def _known(root: str, key: str, ctx: Mapping[str, Any]) -> bool:
    value = ctx.get(root)
    return isinstance(value, Mapping) and key in value


class _JobLint:
    def __init__(
        self,
        workflow: Workflow,
        job: Job,
        options: LintOptions,
        event: Event,
        github: Mapping[str, Any],
        wf_env: Mapping[str, str],
    ) -> None:
        self.wf = workflow
        self.job = job
        self.opt = options
        self.event = event
        self.github = github
        self.env = dict(wf_env)
        self.steps: dict[str, Any] = {}
        self.logins: dict[str, str] = {}  # registry -> "job" or the secret it uses
        self.out: list[Finding] = []
        self.owner = options.repository.split("/")[0]

    def ctx(self, env: Mapping[str, str]) -> dict[str, Any]:
        combos = expand_matrix(self.job.matrix) if isinstance(self.job.matrix, dict) else [{}]
        return {
            "github": self.github,
            "env": dict(env),
            "steps": self.steps,
            "secrets": {},
            "vars": {},
            "inputs": {},
            "needs": {},
            "matrix": combos[0],
            "job": {"status": "success"},
            "runner": {"os": "Linux"},
            "strategy": {},
        }

    def add(
        self,
        pos: Pos,
        severity: str,
        code: str,
        message: str,
        fix: str | None = None,
        image: str | None = None,
    ) -> None:
        self.out.append(Finding(pos, severity, code, message, fix, image))

    def permissions(self) -> dict[str, str] | None:
        pos = self.job.permissions_pos or self.wf.permissions_pos or self.job.pos
        try:
            explicit = perms.explicit(self.wf.permissions, self.job.permissions)
            default = self.opt.owner_default
            if not explicit and default is None and self.opt.access is not None:
                default = self.opt.access.owner_default(self.owner, self.opt.repository)
            if not explicit and default is None:
                self.add(
                    pos,
                    "warning",
                    "owner-default",
                    f"job {self.job.id} has no permissions block: the owner's default "
                    "decides (restricted: packages read, the push is refused; permissive: "
                    "packages write)",
                    "add `permissions: {contents: read, packages: write}` to the job",
                )
                default = "permissive"
            return perms.effective(
                self.wf.permissions,
                self.job.permissions,
                default or "restricted",
                fork=self.event.fork,
            )
        except perms.PermissionsError as exc:
            self.add(pos, "error", "permissions", str(exc))
            return None

    def run(self) -> list[Finding]:
        for key, value in self.job.env.items():
            self.env[key] = _resolve(value, self.ctx(self.env))[0]
        token_perms = self.permissions()
        for step in self.job.steps:
            uses = (step.uses or "").split("@")[0].lower()
            if uses == "docker/login-action":
                self.login(step)
            elif uses == "docker/metadata-action":
                self.metadata(step)
            elif uses == "docker/build-push-action":
                self.build_push(step, token_perms)
            elif step.run and re.search(
                r"\b(docker|podman|buildah|skopeo)\s+(push|copy)\b", step.run
            ):
                self.add(
                    step.run_pos or step.pos,
                    "notice",
                    "run-push",
                    "this run step pushes with a command line; its target is not checked",
                )
        return self.out

    def step_env(self, step: Step) -> dict[str, str]:
        env = dict(self.env)
        for key, value in step.env.items():
            env[key] = _resolve(value, self.ctx(env))[0]
        return env

    def login(self, step: Step) -> None:
        env = self.step_env(step)
        registry = _resolve(step.with_.get("registry", ""), self.ctx(env))[0].strip()
        password = step.with_.get("password", "")
        if _JOB_TOKEN.search(password):
            self.logins[registry or "docker.io"] = "job"
        else:
            found = re.search(r"secrets\.(\w+)", password)
            self.logins[registry or "docker.io"] = found.group(1) if found else "a password"

    def metadata(self, step: Step) -> None:
        if not step.id:
            return
        env = self.step_env(step)
        ctx = self.ctx(env)
        inputs = {k: _resolve(v, ctx)[0] for k, v in step.with_.items()}
        try:
            meta = compute(
                MetaInputs(
                    images=inputs.get("images", ""),
                    tags=inputs.get("tags", ""),
                    flavor=inputs.get("flavor", ""),
                    labels=inputs.get("labels", ""),
                ),
                MetaContext(
                    event_name=self.event.name,
                    ref=self.event.ref,
                    sha=self.event.sha,
                    repository=self.event.repository,
                ),
            )
        except MetadataError as exc:
            self.add(step.pos, "error", "metadata", f"docker/metadata-action: {exc}")
            return
        self.steps[step.id] = {
            "outputs": meta.outputs(MetaInputs()),
            "outcome": "success",
            "conclusion": "success",
        }

    def build_push(self, step: Step, token_perms: Mapping[str, str] | None) -> None:
        env = self.step_env(step)
        ctx = self.ctx(env)
        push_text, _ = _resolve(step.with_.get("push", "false"), ctx)
        if push_text.strip().lower() != "true":
            return
        tags_pos = step.with_pos.get("tags", step.pos)
        raw = step.with_.get("tags", "")
        from cargohold.workflow.actions.buildpush import list_input

        for pos, template in self._tag_lines(tags_pos, raw):
            value, unknown = _resolve(template, ctx)
            if unknown:
                self.add(
                    pos,
                    "warning",
                    "unresolvable",
                    f"tags use {', '.join(sorted(set(unknown)))}, known only when the "
                    "workflow runs; those image names are not checked",
                )
                continue
            for tag in list_input(value):
                try:
                    ref = parse_reference(tag)
                except ReferenceError as exc:
                    fix = None
                    if "lowercase" in str(exc):
                        fix = (
                            "lower-case the name (docker/metadata-action's `images` does: "
                            "`images: ghcr.io/${{ github.repository }}`)"
                        )
                    self.add(
                        pos, "error", "image-name", f'push of "{tag}" would fail: {exc}', fix, tag
                    )
                    continue
                self.check_push(step, pos, ref, token_perms)

    def _tag_lines(self, pos: Pos, raw: str) -> list[tuple[Pos, str]]:
        """Each line of a block-scalar ``tags:`` with its own position (else the whole value)."""
        lines = self.wf.text.splitlines()
        first = lines[pos.line - 1] if 0 < pos.line <= len(lines) else ""
        if not first.rstrip().endswith(("|", ">", "|-", ">-", "|+", ">+")):
            return [(pos, raw)]
        out: list[tuple[Pos, str]] = []
        row = pos.line  # 0-based index of the line after the indicator
        for template in raw.splitlines():
            while row < len(lines) and not lines[row].strip() and template.strip():
                row += 1
            text = lines[row] if row < len(lines) else ""
            col = len(text) - len(text.lstrip()) + 1
            out.append((Pos(pos.file, row + 1, col), template))
            row += 1
        return out

    def check_push(
        self, step: Step, pos: Pos, ref: ImageRef, token_perms: Mapping[str, str] | None
    ) -> None:
        image = str(ref)
        if ref.registry != "ghcr.io" and ref.registry not in self.opt.aliases.mapping:
            self.add(
                pos,
                "notice",
                "other-registry",
                f"{image}: not a GHCR-like registry (give --registry-alias "
                f"{ref.registry}=HOST:PORT to check it)",
                image=image,
            )
            return
        login = self.logins.get(ref.registry)
        if login is None:
            self.add(
                pos,
                "error",
                "no-login",
                f"push of {image} would be refused: unauthorized: authentication required "
                f"(no docker/login-action step for {ref.registry} before this step)",
                f"add a docker/login-action step with registry: {ref.registry}",
                image,
            )
            return
        if login != "job":
            self.add(
                pos,
                "notice",
                "pat",
                f"push of {image} uses secrets.{login} (a personal access token?): its "
                "owner's roles and scopes are not predicted",
                image=image,
            )
            return
        package = ref.name
        namespace = package.split("/")[0]
        repo = self.opt.repository
        access: PackageAccess | None = None
        if self.opt.access is not None:
            try:
                access = self.opt.access.access(package, repo)
            except LookupError as exc:
                self.add(
                    pos, "error", "unknown-owner", f"push of {image} would fail: {exc}", image=image
                )
                return
        exists = access.exists if access is not None else None
        perm_pos = self.job.permissions_pos or self.wf.permissions_pos or self.job.pos
        if token_perms is not None and token_perms.get("packages") != "write":
            verb = "Write" if exists else "Create"
            self.add(
                perm_pos,
                "error",
                "token-permissions",
                f"push of {image} would be denied: installation not allowed to {verb} "
                f"organization package: the job token of {repo} has packages: "
                f"{token_perms.get('packages', 'none')}; it needs write",
                f"add `packages: write` to the permissions of job {self.job.id}",
                image,
            )
            return
        if access is None:
            self.add(
                pos,
                "notice",
                "not-checked",
                f"{image}: the package's access list is not checked (give --server or --data-dir)",
                image=image,
            )
            return
        if not access.exists:
            if namespace.lower() != self.owner.lower():
                self.add(
                    pos,
                    "error",
                    "create-package",
                    f"push of {image} would be denied: permission_denied: create_package: "
                    f"the jobs of {repo} may create packages only in {self.owner}, not in "
                    f"{namespace}",
                    f"push to ghcr.io/{self.owner}/..., or have {namespace} create "
                    f"{package} first and grant {repo} write in Manage Actions access",
                    image,
                )
                return
            self.add(
                pos,
                "notice",
                "creates",
                f"push of {image} creates the package {package} (linked to {repo}, "
                f"which becomes its admin)",
                image=image,
            )
            return
        if ROLE_RANK.get(access.role, 0) < ROLE_RANK["write"]:
            held = "no role" if access.role == "none" else f"the role {access.role}"
            self.add(
                pos,
                "error",
                "write-package",
                f"push of {image} would be denied: permission_denied: write_package: "
                f"repository {repo} (job token) holds {held} on package {package}; it "
                f"needs write",
                f"an admin of {package} can grant it: Package settings > Manage Actions "
                f"access, or `cargohold package actions-access add {package} --repository "
                f"{repo} --role write`",
                image,
            )
            return
        why = "; ".join(access.sources) if access.sources else access.role
        self.add(
            pos,
            "notice",
            "allowed",
            f"push of {image} is allowed: {repo} holds {access.role} ({why})",
            image=image,
        )
