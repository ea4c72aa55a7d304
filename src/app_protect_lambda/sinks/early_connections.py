"""Connections opened before the sinks were instrumented: sqlite3 and psycopg2.

AWS advises opening connections outside the handler, at module scope, and ``@protect``
instruments the sinks when it is applied, after those lines ran. sqlite3 and psycopg2
connections are C objects: their class cannot be swapped (``__class__`` assignment is
refused for them), and wrapping them in a proxy would change their type and identity. Each
driver has a per-connection hook instead, which ``live_objects.adopt`` attaches to every
connection alive at instrumentation:

- sqlite3: the trace callback. SQLite calls it with each statement's text when the statement
  starts running (its first opcode), before any row is read or written; a statement to block
  is stopped with ``interrupt()``, which aborts it at its next jump, still before any effect.
  The authorizer runs earlier (at prepare) but sees the statement's actions, not its text,
  and not at all for a statement the module's cache prepared before; the progress handler
  runs too late unless it runs every few opcodes. The driver raises its own
  ``OperationalError("interrupted")``, since nothing can be raised through a callback; the
  invocation keeps the block and answers as blocked (``decorator._is_block``). SQLite rolls
  back the open transaction of an interrupted write statement, so a blocked write also undoes
  the invocation's uncommitted writes on that connection; and ``interrupt`` stops every
  statement running on the connection at that moment, so concurrent invocations (threads)
  sharing one connection see theirs fail too. Even ``SELECT 1``, ``ATTACH`` and ``VACUUM INTO``
  are stopped before they open or write anything (measured on SQLite 3.40, tested).
- The trace sees one statement at a time, so a script (``executescript``) that an input cuts
  into statements (``x'; DELETE FROM users; --``) shows no statement that holds the whole input.
  A statement is therefore also judged against the parts of an input that a ``;`` can cut it
  into: the part that ends a statement (``x';``) or the whole statement inside an input.
- sqlite3 connections opened later without the patched ``connect`` (a ``functools.partial`` of
  the original kept from before, ``sqlite3.Connection(path)`` called directly) get the same
  hook, found by the ``sqlite3.connect/handle`` audit event (``watch_sqlite``).
- psycopg2: the connection's writable ``cursor_factory`` becomes the checking subclass of the
  one it had, so every cursor the connection makes from then on checks its statements.

Limits, documented rather than hidden: a psycopg2 cursor made before instrumentation, or
made with an explicit ``cursor_factory=`` naming the C cursor class, is not checked (psycopg2's
Python cursor classes, RealDictCursor and the others, are patched in place: ``sql.py``); code
that sets its own sqlite3 trace callback on a hooked connection afterwards replaces ours (one
set before is kept: ours calls it after judging); the trace text
has bound parameters expanded (``'O''Brien'``), which the detector reads as the literal it is.

Cost, from ``python -m bench.early_connections`` (CPython 3.11, CPU time, hooked against the
same connection unhooked, inside an invocation with a browser's 27 inputs; three runs on a
shared machine): +1.7-2.9 µs per ``execute`` with no input in the statement (a connection
opened after instrumentation, whose subclass checks in Python: +1.3 µs), +9.6-12.5 µs with an
input inside a literal of a 178-character statement, and per row for ``executemany`` (+60-80 µs
for 10 rows). Of these, the look for pieces of transformed inputs
(``sources.fragments.transformed``, as the patched connections ask) costs up to 1.2 µs for a
repeated statement and ~4 µs for a new one holding one of the inputs' ``= ; ( )``: each
``executemany`` row is a new text to the trace (its parameters expanded), where the patched
connection judges the template once (+18 µs for 10 rows without this look). The
statement-part test first looks for the statement in the cuttable inputs joined, in one call:
a User-Agent and an Accept-Language hold a ";" in most requests, and testing them one by one
cost 1.5 µs a statement.
"""
from __future__ import annotations

import sys
from weakref import WeakKeyDictionary

from ..context import current
from ..detectors.sql_injection import FRAGMENTS, SQLITE, Statement, names_a_column, relevant
from ..errors import AttackBlocked
from ..findings import AttackKind
from ..guard import active, decide, failsafe, inspect
from ..sources.fragments import transformed
from ..sources.inputs import UNLOCATED, Input, Inputs
from . import audit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..context import RequestContext

KIND = AttackKind.SQL_INJECTION
SQLITE_SINK = "sqlite3.Connection (trace hook)"
# Failed full compares of an input's beginning with a statement's end before the statement is judged whole.
MAX_CUTS = 32
PART = "statement part"

_hooks_enabled = False
SQLITE_OPENED = "sqlite3.connect/handle"  # audit event, raised by Connection.__init__ itself (3.10+)
# The last invocation's input values, and those of them that a ";" can cut into statements (most
# invocations: none). Keyed by the values tuple itself, compared by identity: a WeakKeyDictionary
# lookup by context cost ~0.5 µs a statement, and an id() could be reused by a later invocation.
# A User-Agent ("X11; Linux x86_64") and an Accept-Language ("en;q=0.9") hold one in most requests:
# the statement is first tested against them joined, in one call in C.
_cuttable: tuple[tuple[str, ...], tuple[str, ...], str] = ((), (), "")


def enable(enabled: bool) -> None:
    """Switch the hooks attached so far on or off (uninstrument switches them off)."""
    global _hooks_enabled
    _hooks_enabled = enabled


# ---------------------------------------------------------------- sqlite3

def attach_sqlite(connection: Any, opened_now: bool = False) -> bool:
    """Judge every statement ``connection`` runs inside an invocation; False when it cannot be hooked.

    A connection holds one trace callback: one the application set (its SQL logging) is found
    and called by ours after each judgement, inside invocations and out, so its log goes on
    (``opened_now``: a connection just opened has none). The callback holds the connection (for
    ``interrupt``); sqlite3 connections take no weak reference, and the cycle this makes is one
    the collector frees (measured on 3.10-3.13).
    """
    interrupt = connection.interrupt

    def judge(statement: str) -> None:
        if not _hooks_enabled:
            return
        context = current()
        if context is not None:
            try:
                _judge(context, SQLITE_SINK, statement)
            except AttackBlocked:  # it cannot travel through SQLite: stop the statement instead
                interrupt()

    try:
        application = None if opened_now else _application_trace(connection)
        trace = judge if application is None else _chained(judge, application)
        trace.__app_protect__ = application  # type: ignore[attr-defined]
        connection.set_trace_callback(trace)
    except Exception:  # closed, or owned by another thread (check_same_thread)
        return False
    return True


def _chained(trace: Callable[[str], None], application: Callable[[str], Any]) -> Callable[[str], None]:
    def both(statement: str) -> None:
        trace(statement)
        application(statement)
    return both


def _application_trace(connection: Any) -> Callable[[str], Any] | None:
    """The trace callback set on ``connection`` before ours (our own: the one it called on), now unset.

    sqlite3 has no getter for it, but the connection reports the objects it holds to the
    collector (``gc.get_referents``), the callback among them: it is the callable that is gone
    once the callback is unset (3.10-3.13 tested). A callable that also serves the connection
    otherwise (as its authorizer too) is not told apart, and the application's logging stops.
    About 2.3 µs per connection adopted (timeit, 3.11); the chained trace adds one Python call a
    statement, only where the application had set one.
    """
    from gc import get_referents
    from types import ModuleType

    before = get_referents(connection)
    connection.set_trace_callback(None)
    kept = set(map(id, get_referents(connection)))
    gone = [held for held in before if id(held) not in kept and callable(held)
            and not isinstance(held, (type, ModuleType))]
    if len(gone) != 1:
        return None
    callback = gone[0]
    if hasattr(callback, "__app_protect__"):
        return callback.__app_protect__  # adopted again after uninstrument and instrument
    return callback


def watch_sqlite() -> None:
    """Hook every sqlite3 connection opened from now on without the patched ``connect`` (once a process).

    ``functools.partial(sqlite3.connect, path)`` kept from before instrumentation, or
    ``sqlite3.Connection(path)`` called directly, opens a connection of the driver's own class that
    neither the patched ``connect`` nor the scan of live objects sees. Every connection announces
    itself with the ``sqlite3.connect/handle`` audit event (3.10-3.13), whichever way it was made,
    but the event comes just before ``__init__`` marks it initialised, when its methods still
    refuse to run: the hook is attached at the thread's next Python-level event (``AfterInit``),
    which comes before any statement can run. The process's one audit hook is ``sinks.audit``'s:
    after ``uninstrument`` this handler returns at its first test.

    Cost, timeit in one process before and after the hook is added, on 3.10.13, 3.11.7, 3.12.1 and
    3.13.0: +100-125 ns on every other audit event (``sys.audit`` of an unrelated name; an ``open``,
    an ``import``, each ``sys._getframe`` of ``logging`` raise one), the hook being a Python call and
    one dict lookup (measured with a string compare); +0.2-1 µs on a connection from the patched
    ``connect`` (10-16 µs to open);
    +3.4-8 µs on one opened without it (the profile function and the trace callback), and no cost
    left on the code that runs after (a loop of Python calls timed before and after, 3.11-3.13).
    """
    audit.listen(SQLITE_OPENED, _on_sqlite_opened)


def _on_sqlite_opened(event: str, args: tuple) -> None:
    if _hooks_enabled:
        connection = args[0]
        # The patched connect's connections judge their statements in Python already.
        if not getattr(type(connection), "__app_protect__", False):
            try:
                AfterInit.attach(connection)
            except Exception as error:  # never into the application's connect
                _report(error)


def _report(error: Exception) -> None:
    from ..guard import failed

    failed(KIND, SQLITE_SINK, error, None)  # no block from here: the connect must not fail


class AfterInit:
    """A one-shot profile function that hooks the connections its thread opened, once they are initialised.

    Set for the opening thread only (``sys.setprofile``), it runs at the thread's first event
    after the audit hook returns (audit hooks run with tracing off): the return to the code that
    opened the connection, or the call of its ``execute``; it removes itself there. A thread that
    already runs a profile function (a profiler, ``sys.getprofile()`` set) keeps it, and the
    connections it opens this way are not hooked.
    """

    __slots__ = ("pending",)

    def __init__(self, connection: Any) -> None:
        self.pending = [connection]

    @classmethod
    def attach(cls, connection: Any) -> None:
        profile = sys.getprofile()
        if isinstance(profile, cls):  # a second connection before the thread ran any Python code
            profile.pending.append(connection)
        elif profile is None:
            sys.setprofile(cls(connection))

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        sys.setprofile(None)
        pending, self.pending = self.pending, []
        try:
            for connection in pending:
                attach_sqlite(connection, opened_now=True)
        except Exception as error:  # never into the application's code
            _report(error)


@failsafe(KIND)
def _judge(context: RequestContext, sink: str, statement: str) -> None:
    if not active(context, KIND):
        return
    inputs = context.inputs
    # As the patched connections judge (``sql._check``): an input as it came, or a piece of one the code
    # transformed (stripped, lower-cased, split) before putting it in the statement.
    if ((inputs.any_in(statement, relevant) or transformed(statement, inputs, FRAGMENTS)
         or names_a_column(statement, inputs))
            and inspect(KIND, sink, Statement(statement, SQLITE), argument=statement, context=context) is not None):
        return  # reported already
    cuttable, joined = _cuttable_values(inputs.values)
    if cuttable:
        text = statement.strip()
        # A part ends the statement (with its ";"), or holds all of it: else no part is in it.
        if text.endswith(";") or text in joined:
            parts = [part for value in cuttable for part in _overlaps(text, value)]
            if parts:
                _judge_parts(context, sink, statement, parts)


def _cuttable_values(values: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """The values a ";" can cut, and them joined by NUL (a traced statement holds none)."""
    global _cuttable
    memo = _cuttable
    if memo[0] is values:
        return memo[1], memo[2]
    cuttable = tuple(value for value in values if ";" in value and relevant(value))
    _cuttable = memo = (values, cuttable, "\0".join(cuttable))
    return memo[1], memo[2]


def _overlaps(statement: str, value: str) -> list[Input]:
    """The parts of ``value`` that a statement boundary cut it into and that ``statement`` holds.

    Either the whole statement lies inside the input (a statement the input added), or the
    statement ends with the input's text up to one of its semicolons (the input ended it).
    """
    found = []
    text = statement.strip()
    if len(text) >= 2 and text in value:
        found.append(text)
    head = _longest_head(text, value)
    if head is not None:
        found.append(head)
    return [Input(UNLOCATED + value, part, "") for part in found if relevant(part)]


def _longest_head(text: str, value: str) -> str | None:
    """The longest beginning of ``value`` up to one of its semicolons that ends ``text``, if any.

    The longest is enough: the input's real part ends the statement within it, and a span that
    holds a part breaking out of a literal cannot itself lie inside one. The semicolons an input
    may put inside a literal before the real end are all candidates (a first-32 bound was a
    bypass); each is tried with one character compare first, so the work stays linear in the
    statement. Past MAX_CUTS full compares that failed (only crafted text gets there), the whole
    statement is judged as the part: a hostile statement is judged, never let through unread.
    """
    if not text.endswith(";"):
        return None
    length = len(text)
    first = value[:1]
    failed = 0
    cut = value.rfind(";", 0, length)
    while cut != -1:
        size = cut + 1
        if text[length - size] == first:
            if value.startswith(text[length - size:]):
                return value[:size]
            failed += 1
            if failed >= MAX_CUTS:
                return text
        cut = value.rfind(";", 0, cut)
    return None


def _judge_parts(context: RequestContext, sink: str, statement: str, parts: list[Input]) -> None:
    from ..detectors.sql_injection import detect

    finding = detect(Statement(statement, SQLITE), Inputs(parts, max_decode_chars=0), context.policy.options(KIND))
    if finding is not None and finding.input is not None:
        part = finding.input
        # The record names the input the part came from, and says it was a part of it.
        located = context.inputs.locate(part)
        finding = finding._replace(input=located._replace(transform="+".join(filter(None, (located.transform, PART)))),
                                   message=finding.message.replace(part.describe(), f"a part of {located.location}"))
        decide(context, finding, sink, statement)


# ---------------------------------------------------------------- psycopg2

_factories: WeakKeyDictionary[Any, Any] = WeakKeyDictionary()


def attach_psycopg2(connection: Any, checking_factory: Callable[[type], type]) -> bool:
    """Give ``connection`` the checking subclass of its cursor factory; False when it already has one."""
    import psycopg2.extensions

    chosen = connection.cursor_factory
    protected = checking_factory(chosen or psycopg2.extensions.cursor)
    if protected is chosen:
        return False
    _factories[connection] = chosen
    connection.cursor_factory = protected
    return True


def detach_psycopg2() -> None:
    """Give every adopted connection the cursor factory it had, where ours is still in place."""
    for connection, chosen in list(_factories.items()):
        if getattr(connection.cursor_factory, "__app_protect__", False):
            connection.cursor_factory = chosen
    _factories.clear()
