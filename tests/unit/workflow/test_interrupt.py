"""Built-in actions are stopped at the step's deadline or the job's cancellation, as GitHub
stops any step: their registry connections are shut down, their processes killed.

The registry here stalls (it takes the upload and never answers; a socket that never accepts),
so an action left alone would wait for its client's 120 s timeout and then fail saying it
cannot reach the registry. The assertions are about what the log and the outcomes say: the
runner's own timeout or cancel line, not the action's error, and the steps that ran after.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cargohold.workflow.interrupt import Interrupted, StepSignal
from cargohold.workflow.ociclient import RegistryClient
from cargohold.workflow.refs import Aliases
from support.workflow_run import run_text


class _Stalling(http.server.BaseHTTPRequestHandler):
    """A registry that starts an upload and then never answers its PUT."""

    release: threading.Event

    def do_HEAD(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self.send_response(202)
        self.send_header("Location", "/v2/acme/shop/blobs/uploads/1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        self.release.wait(300)  # the body is never read: the client's send blocks

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def stalling_registry() -> Iterator[str]:
    release = threading.Event()
    handler = type("Handler", (_Stalling,), {"release": release})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def unanswering_port() -> Iterator[int]:
    """A port whose connections are queued by the kernel and never accepted."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _context(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "Dockerfile").write_text("FROM scratch\nCOPY big /big\n")
    # Random, so the layer stays large compressed and the upload fills the socket buffers.
    (checkout / "big").write_bytes(os.urandom(8 << 20))
    return checkout


PUSH = """
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    TIMEOUT_JOB
    steps:
      - uses: actions/checkout@v4
      - id: push
        TIMEOUT_STEP
        uses: docker/build-push-action@v6
        with: {context: ., push: true, tags: ghcr.io/acme/shop:v1}
      - if: always()
        run: echo "after-$((1 + 1)) ${{ job.status }} ${{ steps.push.outcome }}"
      - if: failure()
        run: echo failure-$((2 + 1))
"""


def test_step_timeout_stops_a_stalled_push(tmp_path: Path, stalling_registry: str) -> None:
    text = PUSH.replace("TIMEOUT_JOB", "").replace("TIMEOUT_STEP", "timeout-minutes: 0.05")
    result, log, issuer = run_text(
        text,
        tmp_path,
        context=_context(tmp_path),
        aliases=Aliases.parse([f"ghcr.io={stalling_registry}"]),
    )
    job = result.jobs[0]
    assert "##[error]The action has timed out (timeout-minutes: 0.05)." in log, log
    assert "cannot reach" not in log and "buildx failed" not in log
    assert [s.outcome for s in job.steps] == ["success", "failure", "success", "success"]
    assert "after-2 failure failure" in log and "failure-3" in log
    assert job.outcome == "failure" and not job.pushed
    assert len(issuer.revoked) == 1


def test_job_timeout_cancels_a_stalled_push(tmp_path: Path, stalling_registry: str) -> None:
    text = PUSH.replace("TIMEOUT_JOB", "timeout-minutes: 0.05").replace("TIMEOUT_STEP", "")
    result, log, issuer = run_text(
        text,
        tmp_path,
        context=_context(tmp_path),
        aliases=Aliases.parse([f"ghcr.io={stalling_registry}"]),
    )
    job = result.jobs[0]
    assert job.outcome == "cancelled", log
    assert "##[error]The operation was canceled." in log
    assert "cannot reach" not in log and "buildx failed" not in log
    assert [s.outcome for s in job.steps] == ["success", "cancelled", "success", "skipped"]
    assert "after-2 cancelled cancelled" in log
    assert len(issuer.revoked) == 1


def test_job_timeout_stops_a_login_to_a_registry_that_never_answers(
    tmp_path: Path, unanswering_port: int
) -> None:
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    timeout-minutes: 0.05
    steps:
      - uses: docker/login-action@v3
        with: {registry: ghcr.io, username: alice, password: s3cret}
      - if: cancelled()
        run: echo "cancelled-$((1 + 1))"
"""
    result, log, issuer = run_text(
        text, tmp_path, aliases=Aliases.parse([f"ghcr.io=127.0.0.1:{unanswering_port}"])
    )
    assert [s.outcome for s in result.jobs[0].steps] == ["cancelled", "success"], log
    assert "##[error]The operation was canceled." in log
    assert "Error response from daemon" not in log
    assert "cancelled-2" in log
    assert len(issuer.revoked) == 1


def test_job_timeout_kills_the_fetch_of_an_action(tmp_path: Path, unanswering_port: int) -> None:
    # git clone from an actions source that never answers: the clone (a process the runner
    # starts for the job, not the step's) is killed when the job is cancelled.
    text = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    timeout-minutes: 0.05
    steps:
      - uses: acme/slow@v1
      - if: always()
        run: echo "always-$((1 + 1)) ${{ job.status }}"
"""
    result, log, issuer = run_text(
        text, tmp_path, actions_source=f"http://127.0.0.1:{unanswering_port}"
    )
    job = result.jobs[0]
    assert job.outcome == "cancelled", log
    assert [s.outcome for s in job.steps] == ["skipped", "success"]
    assert "always-2 cancelled" in log
    assert not list((tmp_path / "work" / "_actions").rglob("action.yml"))
    assert len(issuer.revoked) == 1


@pytest.fixture
def full_queue_port() -> Iterator[int]:
    """A port whose accept queue is full: a new connection's handshake never completes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    queued = []
    for _ in range(4):  # the queue takes one or two (kernels differ); the rest time out
        client = socket.socket()
        client.settimeout(0.2)
        try:
            client.connect(sock.getsockname())
        except OSError:
            client.close()
            break
        queued.append(client)
    try:
        yield sock.getsockname()[1]
    finally:
        for client in queued:
            client.close()
        sock.close()


@pytest.mark.parametrize(
    ("port", "insecure"),
    [("unanswering_port", True), ("unanswering_port", False), ("full_queue_port", True)],
)
def test_a_fired_signal_stops_a_request_waiting_on_a_silent_registry(
    request: pytest.FixtureRequest, port: str, insecure: bool
) -> None:
    # Plain HTTP waits for the answer, TLS in its handshake, a full queue in the connect.
    signal = StepSignal()
    where = f"127.0.0.1:{request.getfixturevalue(port)}"
    client = RegistryClient(where, None, insecure=insecure, signal=signal)
    timer = threading.Timer(0.2, signal.fire, args=("stopped here",))
    timer.start()
    try:
        with pytest.raises(Interrupted, match=r"^stopped here$"):
            client.login()
    finally:
        timer.cancel()
    with pytest.raises(Interrupted):  # and nothing starts after
        client.get_blob("acme/shop", "sha256:" + "0" * 64)


# -- the signal itself --------------------------------------------------------------------


def test_a_signal_stops_what_is_registered_once_and_what_registers_late_at_once() -> None:
    signal = StepSignal()
    stopped: list[str] = []
    release = signal.register(lambda: stopped.append("a"))
    with signal.stopping(lambda: stopped.append("b")):
        pass  # released on leaving: not stopped
    release_c = signal.register(lambda: stopped.append("c"))
    release_c()
    signal.check()
    signal.fire("first")
    signal.fire("second")
    assert stopped == ["a"]
    assert signal.fired and signal.reason == "first"
    signal.register(lambda: stopped.append("late"))
    assert stopped == ["a", "late"]
    release()
    with pytest.raises(Interrupted, match=r"^first$"):
        signal.check()
    assert signal.wait(0)
