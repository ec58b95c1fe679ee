"""workflow.actions.buildpush: the name buildah builds into is a valid repository name."""

from __future__ import annotations

import re

import pytest

from cargohold.workflow.actions.buildpush import local_image

# The OCI distribution spec's <name> (path components joined by "/"), then ":" and a tag.
COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
TAG = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
REFERENCE = re.compile(rf"localhost/{COMPONENT}(?:/{COMPONENT})*:{TAG}")


@pytest.mark.parametrize(
    "job_dir",
    # mkdtemp suffixes: letters, digits and "_", anywhere, the end included (CI once drew
    # "bq4zumn_" and buildah refused the tag).
    ["job-build-and-push-bq4zumn_", "job-Build-__x", "job-b-_", "job_", "___", "job.a..b"],
)
def test_the_local_name_is_a_valid_reference(job_dir: str) -> None:
    name = local_image(job_dir, "9768446538")
    assert REFERENCE.fullmatch(name), name


def test_distinct_job_directories_give_distinct_names() -> None:
    assert local_image("job-build-abc1", "1") != local_image("job-build-abc2", "1")
