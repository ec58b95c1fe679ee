"""Cold reads under a hostile client: the warmers that speed up a first pull stay bounded.

A transfer whose file is out of the page cache gets a warmer thread (``web/sendfile.py``). An
attacker who holds two slow pulls of cold blobs and then fires many more must not pile up
queued warmers, each holding an open descriptor, nor keep the warmer threads forever by reading
a few bytes a minute.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from cargohold.web import sendfile
from cargohold.web.sendfile import Senders


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
