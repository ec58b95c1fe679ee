"""``docker/setup-buildx-action``, ``docker/setup-qemu-action``, ``docker/login-action`` and
``docker/metadata-action``.

The setup actions have nothing to do here (the builder is built in and daemonless) and say so.
``login`` checks the credentials against the registry as ``docker login`` does (``GET /v2/``,
then the token realm) and keeps them for this job only: nothing is written to disk, and the
next job starts logged out. ``metadata`` computes tags and labels with ``workflow.metadata``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cargohold.workflow.job import StepFailedError
from cargohold.workflow.metadata import MetaContext, MetadataError, MetaInputs, compute
from cargohold.workflow.ociclient import Credentials, RegistryClient, RegistryError

if TYPE_CHECKING:
    from cargohold.workflow.job import JobRun
    from cargohold.workflow.model import Step


def setup_buildx(run: JobRun, step: Step, inputs: Mapping[str, str]) -> dict[str, str]:
    run.log.line(
        "Nothing to set up: cargohold builds images itself (daemonless, no BuildKit), "
        "with buildah for Dockerfiles that RUN commands"
    )
    return {"name": "cargohold", "driver": "cargohold", "platforms": "linux/amd64,linux/arm64"}


def setup_qemu(run: JobRun, step: Step, inputs: Mapping[str, str]) -> dict[str, str]:
    run.log.line(
        "Nothing to set up: the built-in builder runs no commands, so any platform can be "
        "built without emulation"
    )
    return {"platforms": "linux/amd64,linux/arm64,linux/arm/v7"}


def login(run: JobRun, step: Step, inputs: Mapping[str, str]) -> dict[str, str]:
    registry = inputs.get("registry", "").strip() or "docker.io"
    username = inputs.get("username", "")
    password = inputs.get("password", "")
    if not username or not password:
        raise StepFailedError("docker/login-action: username and password required")
    run.log.mask(password)
    host, insecure = run.renv.aliases.target(registry)
    where = f"{registry} (aliased to {host})" if host != registry else registry
    run.log.line(f"Logging into {where}...")
    creds = Credentials(username, password)
    try:
        RegistryClient(host, creds, insecure=insecure, signal=run.signal).login()
    except RegistryError as exc:
        raise StepFailedError(f"Error response from daemon: login to {registry}: {exc}") from exc
    run.logins[registry] = creds
    run.log.line("Login Succeeded!")
    return {}


def _commit_time(run: JobRun) -> str:
    epoch = run.renv.source_date_epoch
    if epoch is None:
        try:
            code, out, _ = run.call(
                ["git", "-C", str(run.renv.context_dir), "log", "-1", "--format=%ct"]
            )
            epoch = int(out.strip()) if code == 0 and out.strip() else None
        except (OSError, ValueError):
            epoch = None
    moment = datetime.fromtimestamp(epoch, UTC) if epoch is not None else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def metadata(run: JobRun, step: Step, inputs: Mapping[str, str]) -> dict[str, str]:
    event = run.renv.event
    payload_repo = event.payload.get("repository") or {}
    pr = event.payload.get("pull_request") or {}
    ctx = MetaContext(
        event_name=event.name,
        ref=event.ref,
        sha=event.sha,
        repository=event.repository,
        server_url=event.server_url,
        description=str(payload_repo.get("description") or ""),
        license=str((payload_repo.get("license") or {}).get("spdx_id") or ""),
        pr_number=pr.get("number") if isinstance(pr.get("number"), int) else None,
        default_branch=str(payload_repo.get("default_branch") or "main"),
        created=_commit_time(run),
    )
    meta_inputs = MetaInputs(
        images=inputs.get("images", ""),
        tags=inputs.get("tags", ""),
        flavor=inputs.get("flavor", ""),
        labels=inputs.get("labels", ""),
        sep_tags=inputs.get("sep-tags", "") or "\n",
        sep_labels=inputs.get("sep-labels", "") or "\n",
    )
    try:
        meta = compute(meta_inputs, ctx)
    except MetadataError as exc:
        raise StepFailedError(f"docker/metadata-action: {exc}") from exc
    run.log.line("Context info")
    for key, value in (("eventName", event.name), ("sha", event.sha), ("ref", event.ref)):
        run.log.line(f"  {key}: {value}")
    run.log.line(f"Docker image version: {meta.version}")
    run.log.line("Docker tags")
    for tag in meta.tags:
        run.log.line(f"  {tag}")
    run.log.line("Docker labels")
    for key, value in meta.labels.items():
        run.log.line(f"  {key}={value}")
    outputs = meta.outputs(meta_inputs)
    # The action also exports its outputs as DOCKER_METADATA_OUTPUT_* environment variables.
    for key, value in outputs.items():
        run.env[f"DOCKER_METADATA_OUTPUT_{key.upper()}"] = value
    return outputs
