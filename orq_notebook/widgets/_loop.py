"""The widgets' own event loop: one asyncio loop in a daemon thread, shared by every widget.

Why not the kernel's loop: a click does not always arrive where the widget was made. ipykernel
6 delivers widget messages on the main thread's loop, but with ipykernel 7 JupyterLab 4.4+
and Notebook 7 send them over a kernel *subshell* (`commsOverSubshells`), so the click handler
runs in another thread with its own event loop. Tasks started there, next to tasks started by
the cell that made the widget, mix two loops, and an httpx `AsyncClient` keeps pooled
connections bound to the loop that opened them: the next request from the other loop fails
with "... is bound to a different event loop".

So every widget coroutine (loading, configs, runs, column streams) runs on this one loop,
whichever thread asks: a cell, a click on the main loop, a click on a subshell, a script
without any loop. Its tasks never block the kernel, and they go on while a cell runs.

    job = submit(widget._run())   # from any thread
    await job                     # from any event loop; job.result(timeout) without one
    job.cancel()                  # cancels the task on the widgets' loop
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Generator, Iterable
from typing import Any, Generic, TypeVar

__all__ = ["Job", "in_widget_loop", "settle", "submit", "widget_loop"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def widget_loop() -> asyncio.AbstractEventLoop:
    """The widgets' event loop, started on first use (a daemon thread named `orq-widgets`)."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=serve, name="orq-widgets", daemon=True)
            thread.start()
            ready.wait()
            _loop, _thread = loop, thread
        return _loop


def in_widget_loop() -> bool:
    """Whether the calling code runs on the widgets' loop."""
    try:
        return asyncio.get_running_loop() is _loop
    except RuntimeError:
        return False


class Job(Generic[T]):
    """A coroutine running as a task on the widgets' loop.

    `await job` works from any event loop, `job.result(timeout)` from any thread, and
    `job.cancel()` cancels the task itself (a task that handles the cancellation, as a
    stopped run does, still ends with its own result).
    """

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.loop = widget_loop()
        self.future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._task: asyncio.Task[T] | None = None
        if in_widget_loop():
            self._start(coro)
        else:
            self.loop.call_soon_threadsafe(self._start, coro)

    def _start(self, coro: Coroutine[Any, Any, T]) -> None:
        self._task = self.loop.create_task(coro)
        self._task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[T]) -> None:
        if self.future.done():
            return
        if task.cancelled():
            self.future.cancel()
        elif (error := task.exception()) is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(task.result())

    def cancel(self) -> None:
        """Cancel the task (thread-safe; a no-op once it is done)."""
        if in_widget_loop() and self._task is not None:
            self._task.cancel()
        else:
            # Scheduled after `_start` (the loop runs callbacks in order), so the task exists.
            self.loop.call_soon_threadsafe(lambda: self._task is not None and self._task.cancel())

    def done(self) -> bool:
        return self.future.done()

    def cancelled(self) -> bool:
        return self.future.cancelled()

    def exception(self) -> BaseException | None:
        """What the finished task raised (None if it returned or was cancelled)."""
        if not self.future.done() or self.future.cancelled():
            return None
        return self.future.exception()

    def result(self, timeout: float | None = None) -> T:
        """Block this thread until the task ends (never call it on the widgets' loop)."""
        if in_widget_loop():
            raise RuntimeError("Job.result() would block the widgets' loop: await the job.")
        return self.future.result(timeout)

    def __await__(self) -> Generator[Any, None, T]:
        return _watch(self.future).__await__()


def _watch(future: concurrent.futures.Future[T]) -> asyncio.Future[T]:
    """An asyncio future on the running loop that follows `future` one way.

    Unlike `asyncio.wrap_future`, cancelling the watcher (a cell interrupted while it awaits
    a run) leaves the job alone.
    """
    loop = asyncio.get_running_loop()
    watcher: asyncio.Future[T] = loop.create_future()

    def copy(done: concurrent.futures.Future[T]) -> None:
        if watcher.done():
            return
        if done.cancelled():
            watcher.cancel()
        elif (error := done.exception()) is not None:
            watcher.set_exception(error)
        else:
            watcher.set_result(done.result())

    def settled(done: concurrent.futures.Future[T]) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(copy, done)

    future.add_done_callback(settled)
    return watcher


def submit(coro: Coroutine[Any, Any, T]) -> Job[T]:
    """Run `coro` as a task on the widgets' loop; from any thread."""
    return Job(coro)


async def settle(jobs: Callable[[], Iterable[Job[Any] | None]]) -> None:
    """Wait until none of `jobs()` is pending; asked again after each wait, as jobs chain."""
    while pending := [j for j in jobs() if j is not None and not j.done()]:
        await asyncio.wait({_watch(j.future) for j in pending})
