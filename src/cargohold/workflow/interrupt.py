"""Stopping a step's work when its deadline passes or its job is cancelled.

    signal = StepSignal()
    with signal.stopping(lambda: kill_tree(proc)):  # called when it fires (now, if it has)
        ...
    signal.check()                 # raises Interrupted(reason) once it has fired
    signal.fire("The operation was canceled.")      # any thread; the first reason wins

One signal per running step (``JobRun.step_limits``): the step's timer and the job's
cancellation fire it; what the step runs registers how to stop it. A process tree is killed
(``job.kill_tree``), an HTTP connection is shut down (``ociclient``), and Python loops call
``check`` between units of work, so a built-in action stops as promptly as a ``run:`` step.
``Interrupted`` is not a ``StepFailedError``: an action's own error wrapping (``buildx failed
with: ...``) must not reword what the runner says about the interruption.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


class Interrupted(Exception):
    """The step was stopped; ``str()`` is the runner's ``##[error]`` line for it."""


class StepSignal:
    """Whether (and why) the running step must stop, and who to tell when it must."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fired = threading.Event()
        self._reason = ""
        self._stops: dict[int, Callable[[], None]] = {}
        self._next = 0

    @property
    def fired(self) -> bool:
        return self._fired.is_set()

    @property
    def reason(self) -> str:
        return self._reason

    def fire(self, reason: str) -> None:
        """Stop everything registered (once; later calls change nothing). The stops run under
        the lock so none runs after its registration was released: they must be quick and
        must not call back into the signal."""
        with self._lock:
            if self._fired.is_set():
                return
            self._reason = reason
            self._fired.set()
            for stop in list(self._stops.values()):
                stop()

    def register(self, stop: Callable[[], None]) -> Callable[[], None]:
        """Call ``stop`` when the signal fires (at once when it has); returns the release."""
        with self._lock:
            if self._fired.is_set():
                stop()
                return _nothing
            key = self._next
            self._next += 1
            self._stops[key] = stop

        def release() -> None:
            with self._lock:
                self._stops.pop(key, None)

        return release

    @contextlib.contextmanager
    def stopping(self, stop: Callable[[], None]) -> Iterator[None]:
        """``register`` for the duration of the block."""
        release = self.register(stop)
        try:
            yield
        finally:
            release()

    def check(self) -> None:
        """Raise ``Interrupted`` when the signal has fired."""
        if self._fired.is_set():
            raise Interrupted(self._reason)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking when the signal fires; whether it has."""
        return self._fired.wait(seconds)


def _nothing() -> None:
    return None
