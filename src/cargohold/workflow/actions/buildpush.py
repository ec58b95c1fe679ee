"""``docker/build-push-action``: build with the built-in builder (or buildah), push over HTTP.

Inputs: ``context`` (default ``.``), ``file`` (default ``{context}/Dockerfile``), ``tags``,
``labels``, ``build-args``, ``platforms``, ``push``; the others are accepted and reported.
Outputs: ``digest``, ``imageid``, ``metadata``.

The push talks to the registry as buildx does, with the job's ``docker/login-action``
credentials for the tag's registry (``--registry-alias`` says where it is), and prints
buildx's lines (``#N pushing layer <short digest> ... done``). A refusal is printed with the
registry's answer unchanged:

    #5 ERROR: denied: permission_denied: write_package: ...
    ERROR: failed to push ghcr.io/acme/shop:v0.0.10: denied: permission_denied: write_package: ...
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cargohold.workflow.builder import (
    BaseImage,
    Blob,
    BuildRequest,
    BuildResult,
    Platform,
    build,
    image_json,
    needs_execution,
)
from cargohold.workflow.job import PushedImage, StepFailedError, truthy_text
from cargohold.workflow.layers import BuildError, NeedsExecutionError
from cargohold.workflow.ociclient import RegistryClient, RegistryError
from cargohold.workflow.refs import ImageRef, ReferenceError, parse_reference

if TYPE_CHECKING:
    from cargohold.workflow.job import JobRun
    from cargohold.workflow.model import Step

IGNORED = ("cache-from", "cache-to", "provenance", "sbom", "load", "no-cache", "pull", "builder")


def list_input(text: str) -> list[str]:
    """A list input of the docker actions: newline-separated, or comma-separated on one line."""
    items: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        items.extend(x.strip() for x in line.split(",") if x.strip())
    return items


def _pairs(text: str, what: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise StepFailedError(f"{what}: {line!r} is not NAME=VALUE")
        out[key.strip()] = value
    return out


class _Steps:
    """buildx's numbered progress lines (``#3 ...``)."""

    def __init__(self, run: JobRun) -> None:
        self.run = run
        self.n = 0

    def start(self, title: str) -> int:
        self.n += 1
        self.run.log.line(f"#{self.n} {title}")
        return self.n

    def line(self, n: int, text: str) -> None:
        self.run.log.line(f"#{n} {text}")


def build_push(run: JobRun, step: Step, inputs: Mapping[str, str]) -> dict[str, str]:
    context = run.workspace / (inputs.get("context", "").strip() or ".")
    file_input = inputs.get("file", "").strip()
    dockerfile = run.workspace / file_input if file_input else context / "Dockerfile"
    if not context.is_dir():
        raise StepFailedError(f"buildx failed with: ERROR: context {context} is not a directory")
    if not dockerfile.is_file():
        raise StepFailedError(
            f"buildx failed with: ERROR: failed to read dockerfile: open {dockerfile}: "
            "no such file or directory"
        )
    for key in IGNORED:
        if inputs.get(key, "").strip():
            run.log.line(f"({key}: accepted and ignored by the built-in builder)")
    if inputs.get("target", "").strip():
        raise StepFailedError("buildx failed with: ERROR: target stages need buildah")
    tags = list_input(inputs.get("tags", ""))
    refs: list[ImageRef] = []
    for tag in tags:
        try:
            refs.append(parse_reference(tag))
        except ReferenceError as exc:
            raise StepFailedError(f'buildx failed with: ERROR: invalid tag "{tag}": {exc}') from exc
    push = truthy_text(inputs.get("push", "false"))
    if push and not refs:
        raise StepFailedError("buildx failed with: ERROR: tag is needed when pushing to registry")
    labels = _pairs(inputs.get("labels", ""), "labels")
    build_args = _pairs(inputs.get("build-args", ""), "build-args")
    platforms = [Platform.parse(p) for p in list_input(inputs.get("platforms", ""))]
    progress = _Steps(run)
    run.log.line('#0 building with "cargohold" instance using built-in driver')
    n = progress.start("[internal] load build definition from " + dockerfile.name)
    text = dockerfile.read_text(errors="replace")
    progress.line(n, f"transferring dockerfile: {len(text.encode())}B done")
    progress.line(n, "DONE 0.0s")
    if needs_execution(text):
        return _buildah(
            run, progress, context, dockerfile, refs, labels, build_args, platforms, push
        )
    started = time.monotonic()
    n = progress.start("[internal] build (built-in builder, reproducible)")
    try:
        result = build(
            BuildRequest(
                context=context,
                dockerfile=dockerfile,
                build_args=build_args,
                labels=labels,
                platforms=platforms,
                epoch=run.renv.source_date_epoch or 0,
                fetch_base=lambda image, plat: _fetch_base(run, image, plat),
                log=lambda line: progress.line(n, line),
                check=run.signal.check,
            )
        )
    except NeedsExecutionError as exc:
        raise StepFailedError(f"buildx failed with: ERROR: {exc}") from exc
    except BuildError as exc:
        progress.line(n, f"ERROR: {exc}")
        raise StepFailedError(f"buildx failed with: ERROR: {exc}") from exc
    progress.line(n, f"DONE {time.monotonic() - started:.1f}s")
    n = progress.start("exporting to image")
    progress.line(n, "exporting layers done")
    for image in result.images:
        progress.line(n, f"exporting manifest {image.manifest.digest} done")
        progress.line(n, f"exporting config {image.config.digest} done")
    if result.index is not None:
        progress.line(n, f"exporting manifest list {result.index.digest} done")
    for ref in refs:
        progress.line(n, f"naming to {ref} done")
    progress.line(n, "DONE 0.0s")
    if push:
        for ref in refs:
            _push(run, progress, ref, result)
    else:
        run.log.line("(push: false, the image is not pushed; it stays in this job only)")
    return {
        "digest": result.digest,
        "imageid": result.image_id,
        "metadata": image_json(result),
    }


def _client(run: JobRun, registry: str) -> RegistryClient:
    host, insecure = run.renv.aliases.target(registry)
    return RegistryClient(host, run.logins.get(registry), insecure=insecure, signal=run.signal)


def _push(run: JobRun, progress: _Steps, ref: ImageRef, result: BuildResult) -> None:
    n = progress.start(f"pushing {ref} with docker")
    started = time.monotonic()
    client = _client(run, ref.registry)
    try:
        for blob in result.blobs():
            run.signal.check()
            short = blob.digest[7:19]
            progress.line(n, f"pushing layer {short}")
            t0 = time.monotonic()
            _, uploaded = client.push_blob(ref.name, blob.data, blob.digest)
            state = "done" if uploaded else "already exists"
            progress.line(n, f"pushing layer {short} {time.monotonic() - t0:.1f}s {state}")
        for image in result.images if result.index is not None else []:
            client.push_manifest(
                ref.name, image.manifest.digest, image.manifest.data, image.manifest.media_type
            )
        t0 = time.monotonic()
        top: Blob = result.top
        digest = client.push_manifest(ref.name, ref.reference, top.data, top.media_type)
        progress.line(n, f"pushing manifest for {ref}@{digest} {time.monotonic() - t0:.1f}s done")
    except RegistryError as exc:
        progress.line(n, f"ERROR: {exc}")
        run.log.line("------")
        run.log.line(f" > pushing {ref} with docker:")
        run.log.line("------")
        message = f"ERROR: failed to push {ref}: {exc}"
        run.log.line(message)
        raise StepFailedError(f"buildx failed with: {message}") from exc
    progress.line(n, f"DONE {time.monotonic() - started:.1f}s")
    host, _ = run.renv.aliases.target(ref.registry)
    run.pushed.append(PushedImage(str(ref), digest, f"{host}/{ref.name}:{ref.reference}"))


def _fetch_base(run: JobRun, image: str, plat: Platform) -> BaseImage:
    """Pull a base image's manifest, config and layers for one platform."""
    try:
        ref = parse_reference(image)
    except ReferenceError as exc:
        raise BuildError(f"FROM {image}: {exc}") from exc
    client = _client(run, ref.registry)
    try:
        body, _ = client.get_manifest(ref.name, ref.reference)
        manifest = json.loads(body)
        if "manifests" in manifest:
            chosen = next(
                (
                    m
                    for m in manifest["manifests"]
                    if (m.get("platform") or {}).get("os") == plat.os
                    and (m.get("platform") or {}).get("architecture") == plat.architecture
                    and (
                        plat.variant is None
                        or (m.get("platform") or {}).get("variant") == plat.variant
                    )
                ),
                None,
            )
            if chosen is None:
                raise BuildError(f"FROM {image}: no image for {plat} in its index")
            body, _ = client.get_manifest(ref.name, chosen["digest"])
            manifest = json.loads(body)
        config = json.loads(client.get_blob(ref.name, manifest["config"]["digest"]))
        layers = [
            Blob(layer["digest"], client.get_blob(ref.name, layer["digest"]), layer["mediaType"])
            for layer in manifest.get("layers", [])
        ]
    except RegistryError as exc:
        raise BuildError(f"FROM {image}: failed to resolve source metadata: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"FROM {image}: unreadable manifest or config: {exc}") from exc
    return BaseImage(config, layers)


def local_image(job_dir: str, run_id: str) -> str:
    """The name buildah builds into before the push: the job's own directory in it, since
    matrix jobs may build side by side. The directory's name (``mkdtemp``: letters, digits,
    ``_``) is cut to what a repository path component allows: lower-case alphanumeric runs
    joined by ``-``, never a separator at either end (``job-build-x3_`` was refused)."""
    component = re.sub(r"[^a-z0-9]+", "-", job_dir.lower()).strip("-") or "job"
    return f"localhost/cargohold-build-{component}:{run_id}"


def _buildah(
    run: JobRun,
    progress: _Steps,
    context: Path,
    dockerfile: Path,
    refs: list[ImageRef],
    labels: Mapping[str, str],
    build_args: Mapping[str, str],
    platforms: list[Platform],
    push: bool,
) -> dict[str, str]:
    """Dockerfiles with RUN: ``buildah bud --isolation chroot``, then ``buildah push``."""
    buildah = shutil.which("buildah")
    if buildah is None:
        raise StepFailedError(
            "buildx failed with: ERROR: the Dockerfile has RUN instructions, which need "
            "buildah (not installed); the built-in builder only builds Dockerfiles without RUN"
        )
    if len(platforms) > 1:
        raise StepFailedError("buildx failed with: ERROR: buildah builds one platform here")
    local = local_image(run.root.name, str(run.renv.github["run_id"]))
    argv = [buildah, "bud", "--isolation", "chroot", "-f", str(dockerfile), "-t", local]
    for key, value in build_args.items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    if platforms:
        argv += ["--platform", str(platforms[0])]
    iidfile = run.temp / "iid"
    argv += ["--iidfile", str(iidfile), str(context)]
    n = progress.start("[buildah] " + " ".join(argv[1:4]))
    try:
        _stream(run, progress, n, argv)
        image_id = iidfile.read_text().strip() if iidfile.exists() else ""
        digest = ""
        for ref in refs if push else []:
            digest = _buildah_push(run, progress, buildah, local, ref)
    finally:
        # Clean-up, also after the step was stopped (so not through the step's signal): the
        # local image would otherwise stay in buildah's storage.
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(
                [buildah, "rmi", "--force", local], capture_output=True, check=False, timeout=60
            )
    return {
        "digest": digest,
        "imageid": image_id,
        "metadata": json.dumps({"containerimage.digest": digest}, indent=2),
    }


def _buildah_push(run: JobRun, progress: _Steps, buildah: str, local: str, ref: ImageRef) -> str:
    host, insecure = run.renv.aliases.target(ref.registry)
    creds = run.logins.get(ref.registry)
    digestfile = run.temp / "digest"
    cmd = [buildah, "push", f"--tls-verify={'false' if insecure else 'true'}"]
    cmd += ["--digestfile", str(digestfile)]
    if creds:
        # An auth file (0600, in the job's temp), not --creds: argv is visible to `ps`.
        authfile = run.temp / "buildah-auth.json"
        raw = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        fd = os.open(authfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"auths": {host: {"auth": raw}}}, out)
        cmd += ["--authfile", str(authfile)]
    cmd += [local, f"docker://{host}/{ref.name}:{ref.reference}"]
    n = progress.start(f"pushing {ref} with buildah")
    try:
        _stream(run, progress, n, cmd)
    except StepFailedError as exc:
        message = f"ERROR: failed to push {ref}: {exc}"
        run.log.line(message)
        raise StepFailedError(f"buildx failed with: {message}") from exc
    finally:
        # The login may be a PAT: it must not outlive the push (--keep-workdir keeps temp).
        (run.temp / "buildah-auth.json").unlink(missing_ok=True)
    digest = digestfile.read_text().strip()
    run.pushed.append(PushedImage(str(ref), digest, f"{host}/{ref.name}:{ref.reference}"))
    return digest


def _stream(run: JobRun, progress: _Steps, n: int, argv: list[str]) -> None:
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # so a timeout or cancel kills the whole tree
    )
    last = ""
    # ``watch`` kills it when the step's signal fires (its timeout, the job's cancellation);
    # ``Interrupted`` then says so, unwrapped by the callers' "buildx failed". ``with proc`` closes
    # the pipe and reaps the child whatever happens.
    with run.watch(proc), proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            last = line.rstrip() or last
            progress.line(n, line.rstrip())
        code = proc.wait()
    run.signal.check()
    if code != 0:
        raise StepFailedError(last.removeprefix("Error: ") or f"{argv[0]} failed")
