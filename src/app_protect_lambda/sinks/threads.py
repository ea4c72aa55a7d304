"""Threads and executors run under the invocation that started them.

A ContextVar does not cross into a new thread: a thread starts with an empty context, so
every check inside it saw no invocation and let everything through (the red-team suite's
"threads are unchecked"). Work handed to another thread inside an invocation now carries a
copy of the caller's context:

- ``threading.Thread.start``: the thread's ``run`` is bound to ``copy_context().run``;
- ``concurrent.futures.ThreadPoolExecutor.submit`` (which ``map``, ``loop.run_in_executor``
  and most libraries' worker pools go through): the submitted function is.

A block inside such a thread raises AttackBlocked there: the dangerous call never runs, and
the invocation's context keeps the finding, so the invocation answers as blocked even when
the thread's exception is swallowed, or ends a plain Thread (quietly: nobody could catch it).
Outside an invocation nothing is copied; the cost inside one is a ``copy_context()``, well
under a microsecond.

Worker pools of libraries go through ``submit`` too (asyncio's resolver threads behind
``loop.getaddrinfo``, ``ThreadPoolExecutor.map``, boto3's S3 transfer manager behind
``download_file``/``upload_file``), so their work runs under the invocation. One more step is
needed where a library's worker catches ``Exception`` to hand a failure to the thread that waits:
s3transfer's tasks and its cleanup callbacks do, and a block (a ``BaseException``) escaping one
(the ``open`` of ``work/../x.1a2b3c4d``, then the ``remove`` of it) left ``download_file``
waiting forever, until the function timed out. There a block is re-raised as ``WorkerBlocked``,
both an AttackBlocked and an Exception: the transfer fails the normal way, and what
``download_file`` raises is still a block to ``@protect``.

Not covered: threads started before the invocation (a pool's workers run what ``submit``
hands them, so pools are covered; a long-lived thread that takes work from a queue is not),
and processes.
"""
from __future__ import annotations

from contextlib import suppress
from contextvars import copy_context
from functools import partial

from ..context import current
from ..errors import AttackBlocked
from .base import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextvars import Context
    from typing import Any


def _run_blockable(context: Context, run: Callable[[], None]) -> None:
    """A thread's ``run`` under the invocation's context; a block ends it quietly.

    Nobody can catch what a plain thread raises: its block is already recorded and kept on the
    invocation's context, which answers as blocked; a traceback on stderr would add nothing.
    """
    with suppress(AttackBlocked):
        context.run(run)


class Threading(Instrumentor):
    module = "threading"

    def patch(self, module: Any) -> None:
        def start(wrapped, instance, args, kwargs):
            if current() is not None:
                instance.run = partial(_run_blockable, copy_context(), instance.run)
            return wrapped(*args, **kwargs)

        self.wrap(module.Thread, "start", start)


class Executors(Instrumentor):
    module = "concurrent.futures.thread"

    def patch(self, module: Any) -> None:
        def submit(wrapped, instance, args, kwargs):
            if current() is not None and args:
                args = (partial(copy_context().run, args[0]), *args[1:])
            return wrapped(*args, **kwargs)

        self.wrap(module.ThreadPoolExecutor, "submit", submit)


class WorkerBlocked(AttackBlocked, Exception):
    """A block inside a library's worker that hands on only ``Exception``: it fails the work the way
    the library expects, and still ends the invocation as blocked."""


def _handed_on_as_exception(wrapped, instance, args, kwargs):
    try:
        return wrapped(*args, **kwargs)
    except AttackBlocked as blocked:
        if isinstance(blocked, Exception):
            raise
        raise WorkerBlocked(blocked.finding) from blocked


class S3TransferTasks(Instrumentor):
    """A task's work: its failure is handed to the waiting ``download_file`` as the transfer's."""

    module = "s3transfer.tasks"
    version_module = "s3transfer"
    tested_majors = (0,)

    def patch(self, module: Any) -> None:
        self.wrap(module.Task, "_execute_main", _handed_on_as_exception)


class S3TransferCallbacks(Instrumentor):
    """Failure cleanups and done callbacks (removing the partial download): a block there is logged
    and skipped as any failure is, and the transfer still announces that it is done."""

    module = "s3transfer.futures"
    version_module = "s3transfer"
    tested_majors = (0,)

    def patch(self, module: Any) -> None:
        def run_callback(wrapped, instance, args, kwargs):
            with suppress(AttackBlocked):  # recorded, and kept on the invocation's context
                return wrapped(*args, **kwargs)

        self.wrap(module.TransferCoordinator, "_run_callback", run_callback)


INSTRUMENTORS = [Threading, Executors, S3TransferTasks, S3TransferCallbacks]
