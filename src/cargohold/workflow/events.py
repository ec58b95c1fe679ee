"""The triggering event: its payload, the ``github`` context, and whether ``on:`` matches it.

    event = make_event(EventSpec(name="release", tag="v0.0.10", repository="acme/shop", ...))
    triggered(workflow, event) -> None | "why not"
    github_context(event, workspace=..., run_id=...) -> the ``github`` context mapping

Payloads follow GitHub's webhook shapes for the fields workflows read (``release.tag_name``,
``ref``, ``pull_request.head.repo.fork``, ``inputs`` ...); ``--event-payload FILE`` (as act's
``-e``) is merged over the generated one, so any field can be given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cargohold.workflow.model import Trigger, Workflow

EVENTS = ("release", "push", "workflow_dispatch", "pull_request")
ZERO_SHA = "0" * 40


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    repository: str
    actor: str
    sha: str = ZERO_SHA
    tag: str | None = None
    ref: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)
    server_url: str = "https://github.com"
    default_branch: str = "main"


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    payload: dict[str, Any]
    ref: str
    sha: str
    repository: str
    actor: str
    server_url: str

    @property
    def ref_name(self) -> str:
        return self.ref.split("/", 2)[2] if self.ref.count("/") >= 2 else self.ref

    @property
    def ref_type(self) -> str:
        return "tag" if self.ref.startswith("refs/tags/") else "branch"

    @property
    def action(self) -> str | None:
        value = self.payload.get("action")
        return value if isinstance(value, str) else None

    @property
    def fork(self) -> bool:
        """A pull request whose head repository is a fork (its jobs get at most read)."""
        pr = self.payload.get("pull_request")
        if self.name not in ("pull_request",) or not isinstance(pr, dict):
            return False
        head = pr.get("head") or {}
        repo = head.get("repo") or {}
        return bool(repo.get("fork")) or (
            isinstance(repo.get("full_name"), str) and repo["full_name"] != self.repository
        )


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def make_event(spec: EventSpec) -> Event:
    """Build the event's payload and ref (``ValueError`` for an unknown event or bad option)."""
    owner, _, name = spec.repository.partition("/")
    html = f"{spec.server_url.rstrip('/')}/{spec.repository}"
    repo = {
        "name": name,
        "full_name": spec.repository,
        "owner": {"login": owner},
        "html_url": html,
        "default_branch": spec.default_branch,
        "fork": False,
    }
    common: dict[str, Any] = {"repository": repo, "sender": {"login": spec.actor}}
    branch_ref = f"refs/heads/{spec.default_branch}"
    if spec.name == "release":
        tag = spec.tag or _given_tag(spec.payload)
        if not tag:
            raise ValueError("--event release needs --tag (the release's tag, e.g. v0.0.10)")
        ref = f"refs/tags/{tag}"
        payload = {
            **common,
            "action": "published",
            "release": {
                "tag_name": tag,
                "name": tag,
                "draft": False,
                "prerelease": False,
                "target_commitish": spec.default_branch,
                "html_url": f"{html}/releases/tag/{tag}",
            },
        }
    elif spec.name == "push":
        ref = spec.ref or (f"refs/tags/{spec.tag}" if spec.tag else branch_ref)
        payload = {
            **common,
            "ref": ref,
            "before": ZERO_SHA,
            "after": spec.sha,
            "pusher": {"name": spec.actor},
            "head_commit": {"id": spec.sha},
        }
    elif spec.name == "workflow_dispatch":
        ref = spec.ref or branch_ref
        payload = {**common, "ref": ref, "inputs": dict(spec.inputs)}
    elif spec.name == "pull_request":
        number = 1
        ref = f"refs/pull/{number}/merge"
        payload = {
            **common,
            "action": "opened",
            "number": number,
            "pull_request": {
                "number": number,
                "head": {"ref": "feature", "sha": spec.sha, "repo": repo},
                "base": {"ref": spec.default_branch, "repo": repo},
            },
        }
    else:
        raise ValueError(f"unknown event {spec.name!r}; supported: {', '.join(EVENTS)}")
    payload = _merge(payload, spec.payload)
    if spec.name == "pull_request":
        number = int(payload.get("number") or 1)
        ref = spec.ref or f"refs/pull/{number}/merge"
    elif spec.name != "release" and isinstance(payload.get("ref"), str) and not spec.ref:
        ref = payload["ref"]
    return Event(spec.name, payload, ref, spec.sha, spec.repository, spec.actor, spec.server_url)


def _given_tag(payload: Mapping[str, Any]) -> str | None:
    release = payload.get("release")
    if isinstance(release, Mapping) and isinstance(release.get("tag_name"), str):
        return str(release["tag_name"])
    return None


def glob_regex(pattern: str) -> re.Pattern[str]:
    """GitHub's filter patterns: ``*`` (not ``/``), ``**``, ``?``, ``+``, ``[...]``."""
    out = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch in "?+":
            out += ch if out else re.escape(ch)
        elif ch == "[":
            end = pattern.find("]", i)
            out += pattern[i : end + 1] if end > 0 else re.escape(ch)
            i = end if end > 0 else i
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(f"^{out}$")


def _filtered(
    name: str, includes: tuple[str, ...] | None, excludes: tuple[str, ...] | None
) -> bool:
    """True when ``name`` passes the include/exclude lists (``!pattern`` re-excludes)."""
    if includes is not None:
        result = False
        for pattern in includes:
            negate = pattern.startswith("!")
            if glob_regex(pattern[1:] if negate else pattern).match(name):
                result = not negate
        return result
    if excludes is not None:
        return not any(glob_regex(p).match(name) for p in excludes)
    return True


def trigger_refusal(trigger: Trigger, event: Event) -> str | None:
    """None when ``trigger`` starts on ``event``, else why it does not."""
    listed = trigger.types
    typed = event.name in ("release", "pull_request")
    if listed is not None and typed and event.action not in listed:
        return (
            f"on.{event.name}.types is [{', '.join(listed)}], the event's action "
            f"is {event.action!r}"
        )
    if event.name in ("push", "pull_request"):
        target = event.ref
        if event.name == "pull_request":
            base = (event.payload.get("pull_request") or {}).get("base") or {}
            target = f"refs/heads/{base.get('ref', '')}"
        is_tag = target.startswith("refs/tags/")
        short = target.split("/", 2)[2] if target.count("/") >= 2 else target
        has_branch = trigger.branches is not None or trigger.branches_ignore is not None
        has_tag = trigger.tags is not None or trigger.tags_ignore is not None
        if is_tag:
            if has_branch and not has_tag:
                return f"{target} is a tag and on.{event.name} filters only branches"
            if not _filtered(short, trigger.tags, trigger.tags_ignore):
                return f"tag {short!r} does not pass on.{event.name}.tags"
        else:
            if has_tag and not has_branch:
                return f"{target} is a branch and on.{event.name} filters only tags"
            if not _filtered(short, trigger.branches, trigger.branches_ignore):
                return f"branch {short!r} does not pass on.{event.name}.branches"
    return None


def triggered(workflow: Workflow, event: Event) -> str | None:
    """None when the workflow runs on ``event``, else a sentence saying why not."""
    trigger = workflow.triggers.get(event.name)
    if trigger is None:
        listed = ", ".join(workflow.triggers) or "nothing"
        return f"the workflow runs on {listed}, not on {event.name}"
    return trigger_refusal(trigger, event)


def github_context(
    event: Event,
    *,
    workspace: str,
    run_id: str,
    run_number: int = 1,
    token: str = "",
    job: str = "",
    workflow_name: str = "",
    event_path: str = "",
) -> dict[str, Any]:
    owner = event.repository.split("/")[0]
    return {
        "action": "",
        "actor": event.actor,
        "triggering_actor": event.actor,
        "api_url": "https://api.github.com",
        "base_ref": "",
        "head_ref": "",
        "event": event.payload,
        "event_name": event.name,
        "event_path": event_path,
        "graphql_url": "https://api.github.com/graphql",
        "job": job,
        "ref": event.ref,
        "ref_name": event.ref_name,
        "ref_protected": False,
        "ref_type": event.ref_type,
        "repository": event.repository,
        "repository_owner": owner,
        "repositoryUrl": f"git://github.com/{event.repository}.git",
        "retention_days": 90,
        "run_id": run_id,
        "run_number": str(run_number),
        "run_attempt": "1",
        "server_url": event.server_url,
        "sha": event.sha,
        "token": token,
        "workflow": workflow_name,
        "workspace": workspace,
    }
