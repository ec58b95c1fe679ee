"""``actions/checkout``: the context directory becomes the workspace.

The run's ``--context DIR`` is the checkout: its files are copied into the workspace (``.git``
included, so ``git`` commands in later steps see the history). ``path:`` puts them in a
sub-directory; ``repository:`` other than the run's own is refused (nothing to clone from).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cargohold.workflow.job import StepFailedError

if TYPE_CHECKING:
    from cargohold.workflow.job import JobRun
    from cargohold.workflow.model import Step


def checkout(run: JobRun, step: Step, inputs: Mapping[str, str]) -> dict[str, str]:
    repository = inputs.get("repository", "").strip()
    own = run.renv.event.repository
    if repository and repository.lower() != own.lower():
        raise StepFailedError(
            f"actions/checkout: repository {repository!r} is not this run's ({own}); "
            "only the --context directory can be checked out"
        )
    source = run.renv.context_dir
    dest = run.workspace / inputs.get("path", "").strip() if inputs.get("path") else run.workspace
    dest = dest.resolve()
    if run.workspace.resolve() not in (dest, *dest.parents):
        raise StepFailedError(f"actions/checkout: path {inputs.get('path')!r} leaves the workspace")
    run.log.line(f"Syncing repository: {own}")
    run.log.line(f"Copying {source} to {dest}")
    if not source.is_dir():
        raise StepFailedError(f"actions/checkout: the context {source} is not a directory")
    work_root = run.renv.work_root.resolve()

    def skip(directory: str, names: list[str]) -> set[str]:
        # Never copy the runner's own work directory into itself.
        return {n for n in names if (Path(directory) / n).resolve() == work_root}

    def copy(src: str, dst: str) -> object:
        run.signal.check()  # stopped between files when the step times out or is cancelled
        return shutil.copy2(src, dst)

    shutil.copytree(
        source, dest, symlinks=True, dirs_exist_ok=True, ignore=skip, copy_function=copy
    )
    count = sum(1 for p in dest.rglob("*") if p.is_file() and ".git" not in p.parts)
    run.log.line(f"Checked out {count} files")
    return {"ref": run.renv.event.ref, "commit": run.renv.event.sha}
