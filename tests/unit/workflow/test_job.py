"""One job's run: its ``timeout-minutes`` cancels it as GitHub does.

No assertion here is about elapsed time: the limits are tiny (a fraction of a second) and the
steps they cut would run for a minute, so the tests look at outcomes, logs and what never ran.
"""

from __future__ import annotations

from pathlib import Path

from support.workflow_run import run_text

TIMED_OUT = """
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    timeout-minutes: ${{ matrix.limit }}
    strategy:
      matrix:
        limit: [0.005]
    steps:
      - id: sleepy
        run: sleep 60; echo woke-$((1 + 1))
      - run: echo never-$((1 + 1))
      - if: always()
        run: echo "always runs, job ${{ job.status }}, sleepy ${{ steps.sleepy.outcome }}"
      - if: cancelled()
        run: echo cancelled-$((1 + 1))
      - if: failure()
        run: echo failure-$((1 + 1))
  after:
    needs: slow
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "slow was ${{ needs.slow.result }}"
  skipped:
    needs: slow
    runs-on: ubuntu-latest
    steps:
      - run: echo skipped-$((1 + 1))
"""


def test_job_timeout_cancels_the_job_and_runs_only_always_and_cancelled_steps(
    tmp_path: Path,
) -> None:
    result, log, issuer = run_text(TIMED_OUT, tmp_path)
    slow = result.jobs[0]
    assert slow.outcome == "cancelled", log
    assert not result.ok
    assert "exceeded the maximum execution time of 0.005 minutes (job 'slow'" in log
    assert "woke-2" not in log
    assert "never-2" not in log
    assert "always runs, job cancelled, sleepy cancelled" in log
    assert "cancelled-2" in log
    assert "failure-2" not in log
    assert [(s.title, s.outcome) for s in slow.steps] == [
        ("Run sleep 60; echo woke-$((1 + 1))", "cancelled"),
        ("Run echo never-$((1 + 1))", "skipped"),
        ('Run echo "always runs, job cancelled, sleepy cancelled"', "success"),
        ("Run echo cancelled-$((1 + 1))", "success"),
        ("Run echo failure-$((1 + 1))", "skipped"),
    ]
    # Later jobs see it cancelled; the token was revoked at the job's end as for any job.
    assert "slow was cancelled" in log
    assert "skipped-2" not in log
    assert [j.outcome for j in result.jobs] == ["cancelled", "success", "skipped"]
    assert len(issuer.revoked) == 2
    assert "job slow: CANCELLED" in log
    assert "outcome: failure" in log


def test_job_timeout_kills_what_the_step_started(tmp_path: Path) -> None:
    # A background child holding the output pipe must not keep the job waiting.
    marker = tmp_path / "survived"
    text = f"""
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    timeout-minutes: 0.005
    steps:
      - run: |
          (sleep 60; touch {marker}) &
          sleep 60
"""
    result, log, _ = run_text(text, tmp_path)
    assert result.jobs[0].outcome == "cancelled", log
    assert result.jobs[0].steps[0].outcome == "cancelled"
    assert "The operation was canceled." in log


def test_a_job_within_its_timeout_is_not_touched(tmp_path: Path) -> None:
    text = """
on: workflow_dispatch
jobs:
  a:
    runs-on: ubuntu-latest
    timeout-minutes: ${{ inputs.minutes }}
    steps:
      - run: echo done
      - if: cancelled()
        run: echo cancelled-$((1 + 1))
"""
    result, log, _ = run_text(text, tmp_path, event="workflow_dispatch", inputs={"minutes": "30"})
    assert result.ok, log
    assert "done" in log
    assert "cancelled-2" not in log
    assert "maximum execution time" not in log


def test_invalid_timeout_fails_the_job_before_any_step(tmp_path: Path) -> None:
    hostile = ("nan", "inf", "-inf", "1e400", "${{ secrets.GITHUB_TOKEN }}", "${{ env.X }}")
    for value in ("soon", "0", "-1", "${{ matrix.none }}", *hostile):
        text = f"""
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    timeout-minutes: {value!r}
    steps:
      - run: echo step-$((1 + 1))
"""
        result, log, issuer = run_text(text, tmp_path)
        assert result.jobs[0].outcome == "failure", (value, log)
        assert "is not a positive number" in log or "Unrecognized named-value" in log, log
        assert "step-2" not in log
        assert issuer.revoked  # the token still goes


def test_a_huge_timeout_is_no_limit(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    timeout-minutes: 1e300
    steps: [{run: "echo ran-$((1 + 1))"}]
"""
    result, log, _ = run_text(text, tmp_path)
    assert result.ok, log
    assert "ran-2" in log


def test_step_timeout_fails_the_step_not_the_job_status_cancelled(tmp_path: Path) -> None:
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - timeout-minutes: 0.005
        continue-on-error: true
        run: sleep 60
      - run: echo next step ran with ${{ job.status }}
"""
    result, log, _ = run_text(text, tmp_path)
    assert result.ok, log
    assert result.jobs[0].steps[0].outcome == "failure"
    assert "The action has timed out (timeout-minutes: 0.005)." in log
    assert "next step ran with success" in log
