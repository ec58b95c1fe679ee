"""Cold reads under a hostile client: the warmers that speed up a first pull stay bounded.

A transfer whose file is out of the page cache gets a warmer thread (``web/sendfile.py``). An
attacker who holds two slow pulls of cold blobs and then fires many more must not pile up
queued warmers, each holding an open descriptor, nor keep the warmer threads forever by reading
a few bytes a minute.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from cargohold.web import sendfile
from cargohold.web.sendfile import Senders
from support.cold_files import cold_file


def test_a_warmer_whose_sender_does_not_move_gives_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client that reads a few bytes a minute keeps its sender alive; it must not keep a
    # warmer thread from every transfer behind it.
    monkeypatch.setattr(sendfile, "WARM_PATIENCE", 0.05)
    path = tmp_path / "cold"
    path.write_bytes(os.urandom(3 * sendfile.WARM_AHEAD))
    fd = os.open(path, os.O_RDONLY)
    try:
        warmer = sendfile._Warmer(fd, 0, 3 * sendfile.WARM_AHEAD)
        done = threading.Thread(target=warmer.run)
        done.start()
        done.join(30)
        assert not done.is_alive()
        with pytest.raises(OSError):
            os.fstat(warmer._fd)
    finally:
        os.close(fd)


def test_no_more_warmers_than_threads_are_ever_outstanding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Queued warmers would each hold an open descriptor: a flood of cold pulls behind two
    # slow ones could run the process out of files. Past WARMERS, a transfer is not warmed.
    monkeypatch.setattr(sendfile, "WARM_PATIENCE", 60.0)
    path = tmp_path / "cold"
    path.write_bytes(os.urandom(3 * sendfile.WARM_AHEAD))
    senders = Senders()
    fd = os.open(path, os.O_RDONLY)
    try:
        held = [senders.warm(fd, 0, 3 * sendfile.WARM_AHEAD) for _ in range(sendfile.WARMERS)]
        assert all(w is not None for w in held)
        assert senders.warm(fd, 0, 3 * sendfile.WARM_AHEAD) is None
        for w in held:
            assert w is not None
            w.stop()
        deadline = time.monotonic() + 30
        while senders._warming:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        again = senders.warm(fd, 0, 3 * sendfile.WARM_AHEAD)
        assert again is not None
        again.stop()
        assert senders.warmed == sendfile.WARMERS + 1
    finally:
        senders.close()
        os.close(fd)


def test_no_warmer_starts_once_the_senders_are_closed(tmp_path: Path) -> None:
    # A transfer still running during the app's cleanup must not start a pool nobody stops.
    path = tmp_path / "cold"
    path.write_bytes(os.urandom(sendfile.WARM_AHEAD))
    senders = Senders()
    senders.close()
    fd = os.open(path, os.O_RDONLY)
    try:
        assert senders.warm(fd, 0, sendfile.WARM_AHEAD) is None
        assert senders._warm_pool is None
    finally:
        os.close(fd)


def test_a_stuck_warmer_holds_its_sender_no_longer_than_its_patience(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A warmer's read that hangs (a failing disk, a file on a stalled mount) must not hang
    # the pull that shares the file with it: the sender reads the warmer's stretch itself
    # once WARM_PATIENCE has passed, and every byte arrives in order.
    monkeypatch.setattr(sendfile, "WARM_PATIENCE", 0.2)
    release, ended = threading.Event(), threading.Event()

    def stall(fd: int, offset: int, length: int) -> None:
        release.wait(10)
        ended.set()

    monkeypatch.setattr(sendfile, "_bring_in", stall)
    data = os.urandom(5 * sendfile.WARM_STEP + 99)
    fd = os.open(cold_file(tmp_path / "cold", data), os.O_RDONLY)
    try:
        senders = Senders()
        body = sendfile._FileBody(fd, 0, len(data), senders.warm)
        sender, receiver = socket.socketpair()
        got = bytearray()

        def receive() -> None:
            while chunk := receiver.recv(1 << 20):
                got.extend(chunk)

        reading = threading.Thread(target=receive)
        reading.start()
        try:
            body.send(sender, senders.buffer())
            waited = ended.is_set()
        finally:
            release.set()
            sender.close()
            reading.join(30)
            receiver.close()
            body.release()
            senders.close()
        assert not waited, "the sender waited for the stuck warmer's read to end"
        assert senders.warmed == 1
        assert bytes(got) == data
    finally:
        os.close(fd)
