"""SQL sinks: DB-API drivers (sqlite3, psycopg 3, psycopg2, PyMySQL) and SQL sent through boto3.

Python-level cursor classes (psycopg 3, PyMySQL) have their ``execute`` methods
wrapped in place, and PyMySQL's ``Connection.query`` too, which code may call
directly: connections and cursors made before instrumentation are covered by
the same patch. sqlite3 and psycopg2 cursors are C types that cannot be
patched, so ``connect`` is wrapped to hand out subclasses that check the
statement first; the objects users get are still instances of the driver's
own classes. Their connections made before instrumentation get a hook each
(``early_connections.py``).

Besides ``execute``: psycopg 3's ``copy`` and ``stream`` (sync and async),
psycopg2's ``copy_expert`` and ``callproc`` (whose name psycopg2 splices into
``SELECT * FROM name(...)``), the RDS Data API's older ``ExecuteSql``, and the
database file ``sqlite3.connect`` opens (a file access: another tenant's
database). Each statement goes to the detector with its driver's dialect
(``dialect_of``); where parameters come with it, the ``%%`` a pyformat driver
turns into ``%`` (SQLAlchemy writes every ``%`` so) is judged as ``%``.
"""
from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache

from ..context import current
from ..detectors.sql_injection import (
    FRAGMENTS,
    MYSQL,
    MYSQL_NO_BACKSLASH_ESCAPES,
    PARTIQL,
    POSTGRESQL,
    SQLITE,
    Statement,
    names_a_column,
    relevant,
    single_may_matter,
)
from ..findings import AttackKind
from ..guard import failsafe, inspect
from ..sources.fragments import transformed
from . import early_connections, filesystem
from .base import Instrumentor
from .live_objects import with_subclasses

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..context import RequestContext
    from .patching import Wrapper

KIND = AttackKind.SQL_INJECTION


def statement_text(statement: Any, connection: Any = None) -> str | None:
    """The SQL text of a statement object: str, bytes, or a composed query (psycopg.sql)."""
    if isinstance(statement, str):
        return statement
    if isinstance(statement, (bytes, bytearray)):
        return bytes(statement).decode("utf-8", "replace")
    as_string = getattr(statement, "as_string", None)
    return as_string(connection) if as_string is not None else None


def check_statement(sink: str, statement: Any, connection: Any = None, interpolated: bool = False) -> None:
    """Judge one statement before ``sink`` runs it (``connection``: what renders a composed one;
    ``interpolated``: the driver turns ``%%`` into ``%`` because parameters came with it)."""
    context = current()
    if context is not None:
        _check(context, sink, statement, connection, interpolated)


_SERVER_STATUS_NO_BACKSLASH_ESCAPES = 512  # MySQL's protocol: the session's sql_mode has NO_BACKSLASH_ESCAPES


def dialect_of(sink: str, connection: Any = None) -> str | None:
    """The SQL dialect the driver behind ``sink`` speaks; None where it is not known (RDS Data API).

    A MySQL session tells in every reply whether backslashes escape (its sql_mode), and PyMySQL
    keeps that in ``server_status``: ``connection`` is the cursor or connection that runs the statement.
    """
    driver = sink.partition(".")[0]
    if driver == "sqlite3":
        return SQLITE
    if driver in ("psycopg", "psycopg2"):
        return POSTGRESQL
    if driver == "pymysql":
        status = getattr(getattr(connection, "connection", connection), "server_status", 0)
        if isinstance(status, int) and status & _SERVER_STATUS_NO_BACKSLASH_ESCAPES:
            return MYSQL_NO_BACKSLASH_ESCAPES
        return MYSQL
    return PARTIQL if ".dynamodb." in sink else None


@failsafe(KIND)
def _check(context: RequestContext, sink: str, statement: Any, connection: Any, interpolated: bool = False) -> None:
    text = statement if type(statement) is str else statement_text(statement, connection)
    if interpolated and text and "%%" in text:
        # SQLAlchemy (and careful code) on a pyformat driver writes a % as %%, which the driver
        # sends as %: the input "50%" is "50%%" in the text handed to execute.
        text = text.replace("%%", "%")
    # The common case, no input in the statement, is settled here without the guard; a statement
    # with structure then costs a look for the pieces of inputs that the code transformed.
    inputs = context.inputs
    if text and (inputs.any_in(text, relevant) or transformed(text, inputs, FRAGMENTS)
                 or names_a_column(text, inputs) or (inputs.singles and single_may_matter(text, inputs.singles))):
        inspect(KIND, sink, Statement(text, dialect_of(sink, connection)), argument=text, context=context)


_STATEMENT_NAMES = ("query", "operation", "statement")
_PARAMETER_NAMES = ("params", "params_seq", "args", "vars", "vars_list")


def _checking_method(sink: str) -> Wrapper:
    def wrapper(wrapped, instance, args, kwargs):
        statement = args[0] if args else next((kwargs[name] for name in _STATEMENT_NAMES if name in kwargs), None)
        if statement is not None:
            parameters = args[1] if len(args) > 1 else next(
                (kwargs[name] for name in _PARAMETER_NAMES if name in kwargs), None)
            check_statement(sink, statement, instance, interpolated=parameters is not None)
        return wrapped(*args, **kwargs)
    return wrapper


# ---------------------------------------------------------------- sqlite3

def _sqlite_cursor_class(base: type) -> type:
    class ProtectedCursor(base):
        __slots__ = ()

        def execute(self, sql, *args, **kwargs):
            check_statement("sqlite3.Cursor.execute", sql)
            return super().execute(sql, *args, **kwargs)

        def executemany(self, sql, *args, **kwargs):
            check_statement("sqlite3.Cursor.executemany", sql)
            return super().executemany(sql, *args, **kwargs)

        def executescript(self, script, *args, **kwargs):
            check_statement("sqlite3.Cursor.executescript", script)
            return super().executescript(script, *args, **kwargs)

    ProtectedCursor.__name__ = ProtectedCursor.__qualname__ = base.__name__
    ProtectedCursor.__module__ = base.__module__
    return ProtectedCursor


def _sqlite_connection_class(base: type) -> type:
    import sqlite3

    class ProtectedConnection(base):
        def cursor(self, factory=sqlite3.Cursor):
            return super().cursor(protected_sqlite_cursor(factory))

        def execute(self, sql, *args, **kwargs):
            check_statement("sqlite3.Connection.execute", sql)
            return super().execute(sql, *args, **kwargs)

        def executemany(self, sql, *args, **kwargs):
            check_statement("sqlite3.Connection.executemany", sql)
            return super().executemany(sql, *args, **kwargs)

        def executescript(self, script, *args, **kwargs):
            check_statement("sqlite3.Connection.executescript", script)
            return super().executescript(script, *args, **kwargs)

    ProtectedConnection.__name__ = ProtectedConnection.__qualname__ = base.__name__
    ProtectedConnection.__module__ = base.__module__
    ProtectedConnection.__app_protect__ = True
    return ProtectedConnection


@lru_cache(maxsize=64)
def protected_sqlite_cursor(factory: type) -> type:
    return factory if getattr(factory, "__app_protect__", False) else _sqlite_cursor_class(factory)


@lru_cache(maxsize=64)
def protected_sqlite_connection(factory: type) -> type:
    return factory if getattr(factory, "__app_protect__", False) else _sqlite_connection_class(factory)


def _check_database_path(database: Any) -> None:
    """A database file an input chose (another tenant's) is a file access like any open()."""
    context = current()
    if context is not None and database != ":memory:":
        filesystem.check_path(context, "sqlite3.connect", database, True)


class SQLite3(Instrumentor):
    module = "sqlite3"
    _FACTORY_INDEX = 5  # connect(database, timeout, detect_types, isolation_level, check_same_thread, factory)

    def patch(self, module: Any) -> None:
        original = module.connect

        def connect(wrapped, instance, args, kwargs):
            database = args[0] if args else kwargs.get("database")
            if database is not None:
                _check_database_path(database)
            if len(args) > self._FACTORY_INDEX:
                args = list(args)
                args[self._FACTORY_INDEX] = protected_sqlite_connection(args[self._FACTORY_INDEX])
            else:
                kwargs["factory"] = protected_sqlite_connection(kwargs.get("factory", module.Connection))
            return wrapped(*args, **kwargs)

        self.wrap(module, "connect", connect)
        import sqlite3.dbapi2 as dbapi2

        if dbapi2.connect is original:
            self.replace(dbapi2, "connect", module.connect)
        early_connections.enable(True)
        early_connections.watch_sqlite()  # the connections made without the patched connect

    def uninstrument(self) -> None:
        early_connections.enable(False)
        super().uninstrument()

    def live_object_hooks(self) -> dict[type, Any]:
        import sqlite3

        classes = with_subclasses(sqlite3.Connection, lambda cls: getattr(cls, "__app_protect__", False))
        return dict.fromkeys(classes, early_connections.attach_sqlite)


# ---------------------------------------------------------------- psycopg 3, PyMySQL

class Psycopg(Instrumentor):
    module = "psycopg"
    tested_majors = (3,)

    def patch(self, module: Any) -> None:
        for cls_name in ("Cursor", "AsyncCursor", "ServerCursor", "AsyncServerCursor"):
            cls = getattr(module, cls_name, None)
            if cls is None:
                continue
            for method in ("execute", "executemany", "stream", "copy"):
                if method in vars(cls):
                    self.wrap(cls, method, _checking_method(f"psycopg.{cls_name}.{method}"))


# Set while a PyMySQL cursor runs a statement it judged already: its Connection.query then sees
# the statement with the parameters interpolated and escaped, which is not the input's text.
_in_pymysql_cursor: ContextVar[bool] = ContextVar("app_protect_in_pymysql_cursor", default=False)


def _pymysql_cursor_method(sink: str) -> Wrapper:
    check = _checking_method(sink)

    def wrapper(wrapped, instance, args, kwargs):
        token = _in_pymysql_cursor.set(True)
        try:
            return check(wrapped, instance, args, kwargs)
        finally:
            _in_pymysql_cursor.reset(token)
    return wrapper


def _pymysql_query(wrapped, instance, args, kwargs):
    if not _in_pymysql_cursor.get():
        statement = args[0] if args else kwargs.get("sql")
        if statement is not None:
            check_statement("pymysql.connections.Connection.query", statement, instance)
    return wrapped(*args, **kwargs)


class PyMySQL(Instrumentor):
    module = "pymysql.cursors"
    version_module = "pymysql"
    tested_majors = (1, 2)

    def patch(self, module: Any) -> None:
        import pymysql.connections

        for method in ("execute", "executemany"):
            self.wrap(module.Cursor, method, _pymysql_cursor_method(f"pymysql.cursors.Cursor.{method}"))
        self.wrap(pymysql.connections.Connection, "query", _pymysql_query)


# ---------------------------------------------------------------- psycopg2

@lru_cache(maxsize=64)
def protected_psycopg2_cursor(factory: type) -> type:
    if getattr(factory, "__app_protect__", False):
        return factory

    class ProtectedCursor(factory):
        __app_protect__ = True

        def execute(self, query, vars=None):
            check_statement("psycopg2.cursor.execute", query, self, interpolated=vars is not None)
            return super().execute(query, vars)

        def executemany(self, query, vars_list):
            check_statement("psycopg2.cursor.executemany", query, self, interpolated=True)
            return super().executemany(query, vars_list)

        def copy_expert(self, sql, file, *args, **kwargs):
            check_statement("psycopg2.cursor.copy_expert", sql, self)
            return super().copy_expert(sql, file, *args, **kwargs)

        def callproc(self, procname, *args, **kwargs):
            # psycopg2 sends SELECT * FROM procname(%s, ...): the name is spliced into the text
            if isinstance(procname, str):
                check_statement("psycopg2.cursor.callproc", f"SELECT * FROM {procname}()", self)
            return super().callproc(procname, *args, **kwargs)

    ProtectedCursor.__name__ = ProtectedCursor.__qualname__ = factory.__name__
    ProtectedCursor.__module__ = factory.__module__
    return ProtectedCursor


@lru_cache(maxsize=64)
def protected_psycopg2_connection(factory: type) -> type:
    if getattr(factory, "__app_protect__", False):
        return factory
    import psycopg2.extensions

    class ProtectedConnection(factory):
        __app_protect__ = True

        def cursor(self, *args, **kwargs):
            if len(args) >= 2:
                args = (args[0], protected_psycopg2_cursor(args[1] or psycopg2.extensions.cursor), *args[2:])
            else:
                chosen = kwargs.get("cursor_factory") or self.cursor_factory or psycopg2.extensions.cursor
                kwargs["cursor_factory"] = protected_psycopg2_cursor(chosen)
            return super().cursor(*args, **kwargs)

    ProtectedConnection.__name__ = ProtectedConnection.__qualname__ = factory.__name__
    ProtectedConnection.__module__ = factory.__module__
    return ProtectedConnection


class Psycopg2(Instrumentor):
    module = "psycopg2"
    tested_majors = (2,)

    def patch(self, module: Any) -> None:
        import psycopg2.extensions

        def connect(wrapped, instance, args, kwargs):
            factory = kwargs.get("connection_factory") or psycopg2.extensions.connection
            kwargs["connection_factory"] = protected_psycopg2_connection(factory)
            return wrapped(*args, **kwargs)

        self.wrap(module, "connect", connect)

    def uninstrument(self) -> None:
        early_connections.detach_psycopg2()
        super().uninstrument()

    def live_object_hooks(self) -> dict[type, Any]:
        import psycopg2.extensions

        def attach(connection: Any) -> bool:
            return early_connections.attach_psycopg2(connection, protected_psycopg2_cursor)

        classes = with_subclasses(psycopg2.extensions.connection,
                                  lambda cls: getattr(cls, "__app_protect__", False))
        return dict.fromkeys(classes, attach)


def _psycopg2_extras_method(sink: str) -> Wrapper:
    check = _checking_method(sink)

    def wrapper(wrapped, instance, args, kwargs):
        if getattr(type(instance), "__app_protect__", False):  # the checking subclass judged it already
            return wrapped(*args, **kwargs)
        return check(wrapped, instance, args, kwargs)
    return wrapper


class Psycopg2Extras(Instrumentor):
    """psycopg2's Python cursor classes (RealDictCursor, NamedTupleCursor, ...), patched in place.

    A cursor of one of them is checked whatever connection made it: one opened before
    instrumentation, or one asked for it with ``cursor(cursor_factory=RealDictCursor)``, which
    bypasses the connection's own factory.
    """

    module = "psycopg2.extras"
    version_module = "psycopg2"
    tested_majors = (2,)

    def patch(self, module: Any) -> None:
        import psycopg2.extensions

        for name, cls in sorted(vars(module).items()):
            if isinstance(cls, type) and issubclass(cls, psycopg2.extensions.cursor) \
                    and cls.__module__ == module.__name__:  # Python classes; _cursor is the C type
                for method in ("execute", "executemany"):
                    if method in vars(cls):
                        self.wrap(cls, method, _psycopg2_extras_method(f"psycopg2.extras.{name}.{method}"))


# ---------------------------------------------------------------- boto3: RDS Data API, DynamoDB PartiQL

@failsafe(KIND)
def _check_api_call(context: RequestContext, sink: str, client: Any, operation: str, params: dict) -> None:
    service = client.meta.service_model.service_name
    for statement in _botocore_statements(service, operation, params):
        _check(context, f"{sink}.{service}.{operation}", statement, None)


def _botocore_statements(service: str, operation: str, params: dict) -> list[str]:
    if service == "rds-data":
        if operation in ("ExecuteStatement", "BatchExecuteStatement"):
            return [params.get("sql") or ""]
        if operation == "ExecuteSql":  # the older API: one text of statements separated by semicolons
            return [params.get("sqlStatements") or ""]
    if service == "dynamodb":
        if operation == "ExecuteStatement":
            return [params.get("Statement") or ""]
        if operation == "BatchExecuteStatement":
            return [s.get("Statement") or "" for s in params.get("Statements") or []]
        if operation == "ExecuteTransaction":
            return [s.get("Statement") or "" for s in params.get("TransactStatements") or []]
    return []


class Botocore(Instrumentor):
    module = "botocore.client"
    version_module = "botocore"
    tested_majors = (1,)

    def patch(self, module: Any) -> None:
        def make_api_call(wrapped, instance, args, kwargs):
            context = current()
            if context is not None and len(args) >= 2 and isinstance(args[1], dict):
                _check_api_call(context, "boto3", instance, args[0], args[1])
            return wrapped(*args, **kwargs)

        self.wrap(module.BaseClient, "_make_api_call", make_api_call)


INSTRUMENTORS = [SQLite3, Psycopg, Psycopg2, Psycopg2Extras, PyMySQL, Botocore]
