"""What each budget row measures; every figure is protected minus baseline, from the same run."""
from __future__ import annotations

import glob
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import app_protect_lambda
from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

from . import internals, route
from .harness import Timing, interleaved
from .route import order_event

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    what: str
    budget: float | None  # in the row's unit; None: a fact, not a budget
    unit: str
    measured: float | None
    p95: float | None = None
    note: str = ""
    wall: float | None = None  # the added wall-clock median, beside the CPU-time figures
    error: float = 0.0  # standard error of ``measured``, from the spread of the run's rounds


def benign_event(name: str = "john smith the third") -> dict:
    """An API Gateway v1 event with about twenty inputs, as a browser would send."""
    return apigw_v1_event(
        "POST", "/users/42/orders",
        path_parameters={"id": "42"},
        query={"name": name, "page": "2", "sort": "created_at", "filter": "status:active"},
        headers={"accept": "application/json, text/plain, */*", "accept-language": "en-GB,en;q=0.9",
                 "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
                 "referer": "https://shop.example.com/cart", "origin": "https://shop.example.com",
                 "cookie": "session=3f9a8b7c6d5e4f3a2b1c; theme=dark", "x-request-id": "0b8e6c7a-42"},
        body={"items": [{"sku": "X-100", "qty": 2}], "note": "Leave it by the door, please."})


def _context(event: dict) -> object:
    """A context whose inputs are flattened and decoded, as after an invocation's first sink call."""
    context = internals.new_context(event)
    internals.decoded_inputs(context)
    return context


def sink_row(what: str, budget: float, make_call: Callable[[], Callable[[], object]], event: dict,
             number: int = 2000) -> Row:
    """A sink call inside an invocation: uninstrumented baseline against instrumented."""
    context = _context(event)
    calls: dict[str, Callable[[], object]] = {}

    def setup(on: bool) -> Callable[[], None]:
        def apply() -> None:
            route.set_instrumented(on)
            calls["now"] = make_call()
        return apply

    try:
        with internals.active(context):
            baseline, protected = interleaved(lambda: calls["now"](), lambda: calls["now"](),
                                              setup_baseline=setup(False), setup_protected=setup(True),
                                              number=number)
    finally:
        route.set_instrumented(True)
    return _added_row(what, budget, (baseline, protected))


def rows_per_call() -> list[Row]:
    rows = []
    event = benign_event()

    def handler(event: dict, context: object) -> dict:
        return {"statusCode": 200, "body": "ok"}

    protected_handler = protect(mode="block")(handler)
    lambda_context = LambdaContext()
    baseline, protected = interleaved(lambda: handler(event, lambda_context),
                                      lambda: protected_handler(event, lambda_context),
                                      setup_baseline=lambda: None, setup_protected=lambda: None, number=2000)
    inputs = internals.input_count(event)
    rows.append(_added_row(f"@protect, benign API Gateway v1 event ({inputs} inputs), no sink call", 25,
                           (baseline, protected), note=" "))

    def sqlite_plain() -> Callable[[], object]:
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE users (id INTEGER, name TEXT)")
        return lambda: db.execute("SELECT id, name FROM users WHERE id = ?", (7,)).fetchall()

    rows.append(sink_row("sqlite execute, no input in the statement", 2, sqlite_plain, event))

    literal = ("SELECT id, name, email, created_at FROM users WHERE name = 'john smith the third' "
               "AND status = 'active' AND created_at > '2024-01-01' ORDER BY created_at DESC LIMIT 50 OFFSET 100")

    def sqlite_literal() -> Callable[[], object]:
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE users (id INTEGER, name TEXT, email TEXT, created_at TEXT, status TEXT)")
        return lambda: db.execute(literal).fetchall()

    rows.append(sink_row(f"sqlite execute, input inside one literal ({len(literal)}-char statement)", 30,
                         sqlite_literal, event))

    directory = tempfile.mkdtemp(prefix="app-protect-bench-")
    path = os.path.join(directory, "data.txt")
    Path(path).write_text("x")

    def opener() -> Callable[[], object]:
        def run() -> None:
            with open(path) as handle:
                handle.read()
        return run

    rows.append(sink_row("open() and read, no input in the path", 2, opener, event))
    rows.append(sink_row("socket.getaddrinfo('127.0.0.1'), no input", 2,
                         lambda: lambda: socket.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM), event))
    rows.append(_popen_hook_row(event))
    spawn = sink_row("subprocess.run(['true']), no input, real spawn", None,
                     lambda: lambda: subprocess.run(["true"], check=True), event, number=60)
    spawn.note += " (spawn noise is far above the hook's cost)"
    rows.append(spawn)
    rows.append(_urlopen_row(event))
    rows.append(_response_row(event))
    rows.append(_perimeter_row())
    return rows


def _perimeter_row() -> Row:
    """Both perimeter protections on (a 10-entry deny list; the shipped payload pack in report mode) on a
    benign 10 kB JSON request, against a fresh context without them (``run_perimeter`` as ``@protect``
    runs it before the handler)."""
    from app_protect_lambda import checkpoints
    from app_protect_lambda.policy import Policy

    from .ip_filter import cidr_lines
    from .payload import json_request

    event = json_request()
    chosen = Policy.from_dict({"mode": "off", "protections": {
        "ip_filter": {"mode": "block", "deny": cidr_lines(10)}, "malicious_payload": "report"}})
    checkpoints.run_perimeter(internals.new_context(event, chosen))  # the engine built, its patterns compiled
    timings = interleaved(lambda: internals.new_context(event, chosen),
                          lambda: checkpoints.run_perimeter(internals.new_context(event, chosen)),
                          setup_baseline=lambda: None, setup_protected=lambda: None, number=500)
    return _added_row(f"perimeter (IP filter + payload rules), benign {len(event['body']) / 1024:.0f} KB JSON",
                      150, timings)


def _popen_hook_row(event: dict) -> Row:
    """The process hook's own cost: Popen with the fork itself stubbed out, baseline alike."""
    def stub(self: subprocess.Popen, *args: object, **kwargs: object) -> None:
        self.pid, self.returncode = os.getpid(), 0  # "exited": nothing for __del__ to reap

    original = subprocess.Popen._execute_child
    subprocess.Popen._execute_child = stub  # type: ignore[method-assign]
    try:
        return sink_row("subprocess.Popen(['true']) hook, fork stubbed, no input", 2,
                        lambda: lambda: subprocess.Popen(["true"]), event, number=500)
    finally:
        subprocess.Popen._execute_child = original  # type: ignore[method-assign]


def _urlopen_row(event: dict) -> Row:
    import urllib.request

    with route.stock_server() as base:
        url = f"{base}/status"
        row = sink_row("urllib.request.urlopen to a local server, no input", 2,
                       lambda: lambda: urllib.request.urlopen(url, timeout=5).read(), event, number=100)
    row.note += " (the budget row for a sink call; one request is hundreds of µs)"
    return row


def _response_row(event: dict) -> Row:
    body = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 18000)[:1_000_000]
    response = {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": body}
    context = _context(event)
    with internals.active(context):
        timings = interleaved(lambda: response, lambda: internals.run_response_checks(context, response),
                              setup_baseline=lambda: None, setup_protected=lambda: None, number=20)
    return _added_row("response checks on a 1 MB response (redirect + credential exfiltration)", None, timings)


def _fresh_process(code: str) -> dict:
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            timeout=120, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


_INIT_PROBE = """
import json, time
def rss_kb():
    with open('/proc/self/status') as status:
        return next(int(line.split()[1]) for line in status if line.startswith('VmRSS'))
import awslambdaric.bootstrap  # what the real runtime client has loaded before the handler
rss0 = rss_kb(); start, start_cpu = time.perf_counter(), time.process_time()
{body}
elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
print(json.dumps({{"ms": elapsed_cpu * 1000, "wall_ms": elapsed * 1000, "rss_kb": rss_kb() - rss0}}))
"""

_BASELINE_INIT = "def handler(event, context):\n    return {'statusCode': 200}"
_PROTECTED_INIT = ("from app_protect_lambda import protect\nimport app_protect_lambda.sinks as sinks\n"
                   "sinks.instrument()\n@protect\ndef handler(event, context):\n    return {'statusCode': 200}")


def rows_cold_start(runs: int = 15) -> list[Row]:
    """Init in fresh processes, baseline and protected alternating, in CPU time (wall clock in the note).

    CPU time because the wall clock moved 20.1-24.5 ms between two runs ten minutes apart on
    the shared machine; init here is imports and patching, CPU work with the files in the page cache.
    """
    # The layer ships byte code; compile ours too so the figure is what Lambda pays, not the compiler.
    package = Path(app_protect_lambda.__file__).resolve().parent  # the tree imported, also under PYTHONPATH
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    base, prot = [], []
    for _ in range(runs):
        base.append(_fresh_process(_INIT_PROBE.format(body=_BASELINE_INIT)))
        prot.append(_fresh_process(_INIT_PROBE.format(body=_PROTECTED_INIT)))

    def added(key: str) -> float:
        return statistics.median(p[key] for p in prot) - statistics.median(b[key] for b in base)

    import_ms = statistics.median(_fresh_process(
        "import json, time; s = time.process_time(); import app_protect_lambda; "
        "print(json.dumps({'ms': (time.process_time() - s) * 1000}))")["ms"] for _ in range(runs))
    return [
        Row("cold start: import + instrument every sink + wrap (fresh processes, byte code)", 20, "ms",
            added("ms"), note=f"median of {runs}", wall=added("wall_ms")),
        Row("memory: added RSS after init", 5, "MB", added("rss_kb") / 1024, note=f"median of {runs}"),
        Row("import app_protect_lambda alone", None, "ms", import_ms, note=f"median of {runs}"),
    ]


_BENIGN_INVOCATION = """
import json, sys
connects = []
sys.addaudithook(lambda name, args: connects.append(args) if name == 'socket.connect' else None)
from app_protect_lambda import protect
from bench.scenarios import benign_event
from app_protect_lambda.testing import LambdaContext
import sqlite3
@protect(mode='block')
def handler(event, context):
    db = sqlite3.connect(':memory:')
    db.execute("SELECT 'john smith the third'").fetchall()
    return {'statusCode': 200}
handler(benign_event(), LambdaContext())
print(json.dumps({"connects": len(connects), "boto3": 'boto3' in sys.modules}))
"""


# One zip with byte code for four Pythons; issue 10's coverage took it past 2 MB (2.1 MB).
LAYER_BUDGET_MB = 3


def rows_facts() -> list[Row]:
    probe = _fresh_process(_BENIGN_INVOCATION)
    rows = [Row("benign invocation: network calls", 0, "calls", probe["connects"],
                note="boto3 imported" if probe["boto3"] else "boto3 not imported")]
    zips = sorted(glob.glob(str(ROOT / "dist" / "app-protect-layer-*.zip")))
    for path in zips:  # the budget tests/e2e/test_layer_build.py holds the zip to
        rows.append(Row(f"layer zip {Path(path).name}", LAYER_BUDGET_MB, "MB", os.path.getsize(path) / 1024 / 1024))
    if not zips:
        rows.append(Row("layer zip", LAYER_BUDGET_MB, "MB", None, note="not built: run `make layer`"))
    return rows


def _added_row(what: str, budget: float | None, timings: tuple[Timing, Timing], note: str = "") -> Row:
    """Protected minus baseline; the note gives the baseline on both clocks unless ``note`` says otherwise."""
    baseline, protected = timings
    added = protected - baseline
    note = note.strip() or f"baseline {baseline.median_ns / 1000:.2f} µs CPU, {baseline.wall_ns / 1000:.2f} µs wall"
    return Row(what, budget, "µs", added.median_ns / 1000, added.p95_ns / 1000, note, added.wall_ns / 1000,
               added.error_ns / 1000)


def rows_noise() -> list[Row]:
    """A/A runs: both arms the same unprotected code, so any "added" time is the harness's noise floor."""
    rows = []
    with route.open_route() as order_route:
        same = route.whole_route(order_route, protected=False)
    rows.append(_added_row("noise floor: realistic route, unprotected in both arms", None, same))
    db = sqlite3.connect(":memory:")
    route.set_instrumented(False)
    try:
        same = interleaved(lambda: db.execute("SELECT 1").fetchall(), lambda: db.execute("SELECT 1").fetchall(),
                           setup_baseline=lambda: None, setup_protected=lambda: None, number=2000)
    finally:
        route.set_instrumented(True)
    rows.append(_added_row("noise floor: sqlite execute, uninstrumented in both arms", None, same))
    return rows


def rows_route() -> list[Row]:
    """The realistic route whole (the budget rows), then in parts, each alone."""
    event = order_event()
    inputs = internals.input_count(event)
    with route.open_route() as order_route:
        baseline, protected = route.whole_route(order_route)
        response = order_route.handler(event, LambdaContext())
        added = protected - baseline
        # The share is of what the unprotected invocation lasts (wall clock: the stock server's
        # answer and the child's run count), in its least disturbed round: the median round's
        # wall clock moved 3.4-8.2 ms between runs with the load, the share with it.
        fastest = baseline.fastest_wall_ns
        share = Row(f"realistic route ({inputs} inputs, 5 sink calls, {len(response['body'])} B response): "
                    "added share", 10, "%", 100 * added.median_ns / fastest, 100 * added.p95_ns / fastest,
                    f"of the unprotected run's {fastest / 1000:.0f} µs wall (fastest round)",
                    100 * added.wall_ns / baseline.wall_ns, 100 * added.error_ns / fastest)
        rows = [_added_row("realistic route: added time per invocation", 25, (baseline, protected)), share]
        parts = [
            ("part: @protect around the route without its sink calls", route.envelope(order_route)),
            ("part: flatten the event's inputs", route.inputs(decode=False)),
            ("part: flatten and decode every input form", route.inputs(decode=True)),
            (f"part: response checks on the {len(response['body'])} B response",
             route.response_checks(event, response)),
            ("part: sqlite, input inside a literal (first call)",
             route.first_sink_call(order_route, order_route.find_customer, number=100)),
            ("part: sqlite, parameterised (first call)",
             route.first_sink_call(order_route, order_route.find_prices, number=100)),
            ("part: open() a bundled file and read it (first call)",
             route.first_sink_call(order_route, lambda order: order_route.read_pricing(), number=100)),
            ("part: urlopen to 127.0.0.1, input in the query string (first call)",
             route.first_sink_call(order_route, order_route.fetch_stock, number=40)),
            ("part: subprocess.run, input in the argv (first call)",
             route.first_sink_call(order_route, order_route.run_tool, number=20)),
        ]
    rows += [_added_row(what, None, timings) for what, timings in parts]
    summed = [row for row in rows[2:] if row.what.startswith("part: ") and "flatten the" not in row.what
              and "response checks" not in row.what]  # the envelope holds the response checks
    # Each part starts from empty memos, so the sum counts twice what the route's two queries
    # share (the SQL view of the inputs): it is an upper bound of the whole, less noisy than it.
    rows.append(Row("sum of the parts (envelope + flatten and decode + the five sink calls)", None, "µs",
                    sum(row.measured or 0 for row in summed), note="compare with the whole route",
                    error=sum(row.error ** 2 for row in summed) ** 0.5))
    return rows
