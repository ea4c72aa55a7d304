"""The file-access detector on its own: traversal, absolute paths, NUL bytes, sensitive locations,
policy globs, archive members, and the sinks' fast path."""
from __future__ import annotations

import os

import pytest

from app_protect_lambda.detectors import file_access as fa
from app_protect_lambda.detectors.file_access import FileAccess, Member
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import Policy
from app_protect_lambda.sources.inputs import Input, Inputs


def options(**protection) -> dict:
    return Policy.from_dict({"protections": {"file_access": protection}}).options(AttackKind.FILE_ACCESS)


DEFAULTS = options()


def judge(path: str, *values: str, write: bool = False, opts=None, members=None):
    inputs = Inputs([Input(f"query.p{index}", value) for index, value in enumerate(values)])
    return fa.detect(FileAccess(path, write, members), inputs, DEFAULTS if opts is None else opts)


ATTACKS = [
    # (path the code built, input, rule)
    ("/tmp/uploads/../../var/task/app.py", "../../var/task/app.py", "file.traversal"),
    ("/tmp/uploads/../secret.txt", "../secret.txt", "file.traversal"),
    ("/tmp/uploads/a/../../b", "a/../../b", "file.traversal"),
    ("../../etc/passwd", "../../etc/passwd", "file.traversal"),
    ("data/../../../etc/passwd", "../../../etc/passwd", "file.traversal"),
    ("/tmp/uploads/..\\..\\etc\\passwd", "..\\..\\etc\\passwd", "file.traversal"),
    ("/tmp/uploads/../../etc/passwd", "..\\..\\etc\\passwd", "file.traversal"),  # the code turned \ into /
    ("/tmp/uploads/../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "file.traversal"),  # decoded form
    ("/tmp/uploads/../../etc/passwd", "..%252F..%252Fetc%252Fpasswd", "file.traversal"),
    ("/etc/passwd", "/etc/passwd", "file.absolute"),
    ("/var/task/app.py", "/var/task/app.py", "file.absolute"),
    ("/tmp/x", "/tmp/x", "file.absolute"),
    ("/tmp/uploads/report.pdf\x00.png", "report.pdf\x00.png", "file.nul-byte"),
    ("/proc/self/environ", "environ", "file.sensitive"),
    ("/proc/self/mem", "mem", "file.sensitive"),
    ("/var/task/app.py", "task/app.py", "file.sensitive"),
    ("/var/runtime/bootstrap.py", "runtime/bootstrap.py", "file.sensitive"),
    ("/etc/shadow", "shadow", "file.sensitive"),
    ("/opt/python/secrets.py", "opt/python/secrets.py", "file.sensitive"),
    (os.path.expanduser("~/.aws/credentials"), ".aws/credentials", "file.sensitive"),
    ("/proc/1/cmdline", "1/cmdline", "file.sensitive"),
    # the precision rules keep what an input can choose: a multi-segment piece, the last segment
    ("/var/task/app.py", "var/task/app.py", "file.sensitive"),
    ("/var/task/locales/ar.json", "task/locales/ar.json", "file.sensitive"),
    ("/proc/self/task/1/environ", "environ", "file.sensitive"),
    ("/var/task/static/../app.py", "/static/../app.py", "file.traversal"),  # leaves the mirrored folder
    ("/var/task/static/css/../../app.py", "/static/css/../../app.py", "file.traversal"),
    ("/var/task/static/../../runtime/x", "/static/../../runtime/x", "file.traversal"),
    # the code normalised (abspath, normpath, realpath, Path.resolve) the path the input made climb
    ("/var/task/app.py", "../../var/task/app.py", "file.traversal"),
    ("/etc/passwd", "../../../etc/passwd", "file.traversal"),
    ("/tmp/secret.txt", "../secret.txt", "file.traversal"),
    ("/tmp/secret.json", "../secret", "file.traversal"),  # the code added the extension
    ("/tmp/uploads-evil/x.txt", "../uploads-evil/x.txt", "file.traversal"),  # startswith("/tmp/uploads")
    ("/etc/passwd", "/../etc/passwd", "file.traversal"),
    ("/etc/passwd", "..\\..\\etc\\passwd", "file.traversal"),
    ("/tmp/secret.txt", "..%2Fsecret.txt", "file.traversal"),
    ("/tmp/secret.txt", "a/../../secret.txt", "file.traversal"),
    # paths a parser read out of the input: urlparse(...).path of a file: URL, glob's results
    ("/etc/passwd", "file:///etc/passwd", "file.absolute"),
    ("/etc/passwd", "file://localhost/etc/passwd", "file.absolute"),
    ("/var/task/app.py", "FILE:///var/task/app.py?x=1#top", "file.absolute"),
    ("/etc/passwd", "file:/etc/passwd", "file.absolute"),
    ("/tmp/uploads/../../etc/passwd", "file:../../etc/passwd", "file.traversal"),
    ("/tmp/uploads/../secret.txt", "../*", "file.traversal"),  # glob.glob(base + "/" + pattern)
    ("/tmp/uploads/..", "../*", "file.traversal"),  # the directory glob lists
    ("/tmp/uploads/../../var/task/app.py", "../../var/task/*.py", "file.traversal"),
    ("/tmp/uploads/a/../../secret.txt", "a/../../s?cret.*", "file.traversal"),
    # issue 11 red team: a glob from the root (glob.glob(pattern)), a relative prefix normalised away
    ("/tmp/x/secret.txt", "/tmp/x/secre*", "file.absolute"),
    ("/var/task/app.py", "/var/task/*.py", "file.absolute"),
    ("/var/task/app.py", "/var/[t]ask/app.py", "file.absolute"),
    ("app.py", "../app.py", "file.traversal"),  # normpath("static/" + name)
    ("lib/app.py", "../../lib/app.py", "file.traversal"),
    (os.path.expanduser("~/.aws/credentials"), "~/.aws/credentials", "file.absolute"),  # expanduser(name)
    ("/tmp/uploads/../secret.txt", "..,secret.txt", "file.traversal"),  # "/".join(value.split(","))
    ("/tmp/uploads/../../etc/passwd", "..|..|etc|passwd", "file.traversal"),
    ("/tmp/uploads/a/../../x", "a ../.. x", "file.traversal"),
    ("/tmp/secret.txt", "..,secret.txt", "file.traversal"),  # then normalised
    (os.path.expanduser("~root/.ssh/id_rsa"), "~root/.ssh/id_rsa", "file.absolute"),
]


@pytest.mark.parametrize(("path", "value", "rule"), ATTACKS)
def test_attacks(path: str, value: str, rule: str) -> None:
    finding = judge(path, value)
    assert finding is not None, (path, value)
    assert finding.rule == rule
    assert finding.kind is AttackKind.FILE_ACCESS
    assert finding.input is not None and finding.input.location == "query.p0"


BENIGN = [
    ("/tmp/uploads/report.v2.final.pdf", "report.v2.final.pdf"),
    ("/tmp/uploads/my report 2024 (final).txt", "my report 2024 (final).txt"),
    ("/tmp/uploads/請求書 2024年3月.pdf", "請求書 2024年3月.pdf"),
    ("/tmp/uploads/a..b..c", "a..b..c"),
    ("/tmp/uploads/...", "..."),
    ("/tmp/uploads/sub/../file.txt", "sub/../file.txt"),  # stays under the directory the code chose
    ("/var/task/static/style.css", "style.css"),  # the code chose /var/task, not the input
    ("/var/task/templates/index.html", "templates/index.html"),
    ("/proc/self/status", "status"),
    ("/tmp/cache/users/42.json", "42"),
    ("/tmp/uploads/users/alice", "/users/alice"),  # an HTTP path inside the file path, not its start
    ("/opt/fonts/NotoSans.ttf", "NotoSans.ttf"),
]


BENIGN += [
    # a short piece of the code's own path: the input selected a bundled file, the code chose the folder
    ("/var/task/locales/ar.json", "ar"),
    ("/var/task/locales/ta.json", "ta"),
    ("/var/task/locales/arabic.json", "ar"),
    ("/var/task/topics/task.md", "task"),
    ("/var/task/docs/todo.md", "task"),
    ("/var/runtime/../task/docs/run.md", "run"),
    ("/opt/fonts/opt.ttf", "opt"),
    ("/opt/python/lib/python3.12/site-packages/pandas/core/frame.py", "pandas"),
    ("locales/ar.json", "ar"),  # relative to the working directory, /var/task on Lambda
    # a route mirrored under a bundled folder, resolved inside it
    ("/var/task/static/app.js", "/static/app.js"),
    ("/var/task/static/css/site.css", "/static/css/site.css"),
    ("/var/task/static/css/../img/logo.png", "/static/css/../img/logo.png"),
    ("/var/task/static/", "/static/"),
    ("/var/task/public/index.html", "/index.html"),
    # a normalised path where the input did not climb, or landed elsewhere
    ("/tmp/uploads/a.txt", "sub/../a.txt"),
    ("/var/task/static/img/l.png", "/static/css/../img/l.png"),
    ("/tmp/uploads/notsecret.txt", "../secret.txt"),
    ("/tmp/uploads/a", "../a/.."),
    # parsers' forms that stay where the code meant
    ("/tmp/uploads/a.txt", "file:///elsewhere/a.txt"),
    ("/tmp/uploads/report.pdf", "*.pdf"),
    ("/tmp/uploads/sub/../a.txt", "sub/../*.txt"),
    ("/tmp/uploads/file:a.txt", "file:a.txt"),
    # issue 11 red team: a root glob names nothing alone; a landing inside a relative name is no landing
    ("/tmp/uploads/a.txt", "/*"),
    ("/tmp/uploads/a.txt", "/**/*.txt"),
    ("/tmp/uploads/a.txt", "/[a-z]*"),
    ("/app/data.json", "/a?x=1"),  # a login's next= parameter, not a glob
    ("/dashboard/settings.json", "/dashboard?tab=2"),
    ("/tmp/uploads/a.txt", "/tmp?x"),
    ("/tmp/uploads/~notes.txt", "~notes.txt"),  # no such user: expanduser leaves it
    ("/tmp/uploads/sub/../a.txt", "sub,..,a.txt"),  # joined, it stays in the folder
    ("/tmp/uploads/x/../y", "wait.., x"),
    ("/tmp/uploads/~/a.txt", "~/a.txt"),  # the code put it under its folder, unexpanded
    ("myapp.py", "../app.py"),
    ("/tmp/uploads/x/app.py.bak", "../../app.py2"),
]


@pytest.mark.parametrize(("path", "value"), BENIGN)
def test_benign(path: str, value: str) -> None:
    assert judge(path, value) is None
    assert judge(path, value, write=True) is None


PIECED = [
    # (path, inputs the code joined, whether it is a traversal): a `..` two inputs wrote together
    ("/tmp/uploads/../secret.txt", (".", "./secret.txt"), True),
    ("/tmp/uploads/../../etc/passwd", ("./..", "/../etc/passwd"), True),
    ("/tmp/uploads/x./../../secret", ("x.", "./../secret"), True),
    # a lone dot coincides with the code's own `..`; inputs beside a `..` the code wrote prove nothing
    ("/var/task/lib/../data/x.json", (".",), False),
    ("/var/task/lib/../data/v1.2.json", ("v1.2", "data"), False),
    ("/tmp/uploads/../shared/a.txt", ("a.txt", ".txt"), False),
    ("/tmp/uploads/sub/../a.txt", ("sub/.", "./a.txt"), False),  # stays under the directory
]


@pytest.mark.parametrize(("path", "values", "attack"), PIECED)
def test_a_dotdot_pieced_from_two_inputs(path: str, values: tuple[str, ...], attack: bool) -> None:
    finding = judge(path, *values)
    if attack:
        assert finding is not None and finding.rule == "file.traversal", (path, values)
    else:
        assert finding is None, (path, values, finding)


@pytest.mark.parametrize(("path", "value", "rule"), [
    ("app.py", "app.py", "file.sensitive"),  # open(name) with the working directory /var/task
    ("./app.py", "./app.py", "file.sensitive"),
    ("./app.py", "app.py", "file.sensitive"),  # open("./" + name)
    ("static/../app.py", "static/../app.py", "file.traversal"),  # leaves the folder it named
    ("static/css/../../lib/settings.py", "static/css/../../lib/settings.py", "file.traversal"),
    ("lib/settings.py", "lib/settings.py", None),  # a relative route ({proxy+}) mirrored in the directory
    ("static/css/site.css", "static/css/site.css", None),
    ("static/css/../site.css", "static/css/../site.css", None),  # stays in static/
    ("locales/ar.json", "ar", None),  # a short piece: the code chose the folder
    ("locales/ar.json", "ar.json", None),
    ("static/css/site.css", "css/site.css", None),
    ("ar.json", "ar", None),  # the code added the extension: a file it named
])
def test_a_relative_path_the_input_starts_in_a_sensitive_working_directory(
        path: str, value: str, rule: str | None, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    finding = judge(path, value, opts=options(sensitive_paths=[str(tmp_path)]))
    assert (finding and finding.rule) == rule, finding
    assert judge(path, value) is None  # the same working directory, not sensitive


def test_a_climb_realpath_took_through_the_kernels_links(monkeypatch, tmp_path) -> None:
    """realpath and Path.resolve follow /proc/self/root and /proc/self/cwd: the landing does too."""
    monkeypatch.chdir(tmp_path)
    cases = [(f"{tmp_path}/app.py", "../../proc/self/cwd/app.py"),
             ("/etc/passwd", "../../proc/self/root/etc/passwd"),
             ("/etc/passwd", "../../proc/thread-self/root/etc/passwd"),
             ("/etc/hosts", "../../proc/self/root/etc/hosts")]
    for path, value in cases:
        finding = judge(path, value)
        assert finding is not None and finding.rule == "file.traversal", (path, value)
    assert judge(f"{tmp_path}/app.py", "../../proc/self/cwd/other.py") is None
    assert judge("/etc/passwd", "../../proc/self/root") is None  # lands at the root: names no file


def test_own_command_line_is_not_sensitive() -> None:
    assert judge(f"/proc/{os.getpid()}/cmdline", str(os.getpid())) is None
    assert judge("/proc/self/cmdline", "cmdline") is None


def test_environ_is_denied_without_any_input() -> None:
    for path in ("/proc/self/environ", "/proc/thread-self/environ", f"/proc/{os.getpid()}/environ",
                 "/proc/self/../self/environ", "/proc//self/environ", "/proc/self/root/proc/self/environ",
                 f"/proc/self/task/{os.getpid()}/environ"):
        finding = judge(path)
        assert finding is not None and finding.rule == "file.deny-read", path
        assert finding.input is None


def test_relative_path_resolved_from_the_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir("/proc/self")
    assert judge("environ").rule == "file.deny-read"


def test_deny_and_allow_globs() -> None:
    opts = options(deny_read=["/tmp/private/**"], deny_write=["/tmp/*.sh", "*.pem"],
                   deny_paths=["/mnt/efs"], allow_paths=["/tmp/private/public"])
    assert judge("/tmp/private/a/b.txt", opts=opts).rule == "file.deny-read"
    assert judge("/tmp/private/a/b.txt", write=True, opts=opts) is None
    assert judge("/tmp/run.sh", write=True, opts=opts).rule == "file.deny-write"
    assert judge("/tmp/dir/run.sh", write=True, opts=opts) is None  # * stays in one segment
    assert judge("/var/task/certs/key.pem", write=True, opts=opts).rule == "file.deny-write"  # at any depth
    assert judge("/mnt/efs/data/x", opts=opts).rule == "file.deny-read"
    assert judge("/mnt/efs/data/x", write=True, opts=opts).rule == "file.deny-write"
    assert judge("/mnt/efsx", opts=opts) is None
    assert judge("/tmp/private/public/a.txt", opts=opts) is None  # allowed
    assert judge("/tmp/private/public/../a.txt", opts=opts).rule == "file.deny-read"


def test_allow_exempts_input_findings_too() -> None:
    opts = options(allow_read=["/srv/shared/**"])
    assert judge("/srv/shared/a.txt", "/srv/shared/a.txt", opts=opts) is None
    assert judge("/srv/shared/a.txt", "/srv/shared/a.txt", write=True, opts=opts).rule == "file.absolute"


def test_environ_default_can_be_switched_off() -> None:
    assert judge("/proc/self/environ", opts=options(deny_read=[])) is None


def test_sensitive_paths_extend_the_builtin_list() -> None:
    opts = options(sensitive_paths=["/mnt/secrets"])
    assert judge("/mnt/secrets/db.txt", "secrets/db.txt", opts=opts).rule == "file.sensitive"
    assert judge("/mnt/secrets/db.txt", "db.txt", opts=opts) is None
    assert judge("/proc/self/environ", "environ", opts=opts).rule == "file.sensitive"


def test_package_files_are_exempt_from_deny_rules() -> None:
    package = os.path.dirname(fa.__file__)
    opts = options(deny_read=[package])
    assert judge(os.path.join(package, "file_access.py"), opts=opts) is None
    assert judge(os.path.join(package, "..", "..", "elsewhere.txt"), opts=options(deny_read=["/**"])) is not None


ARCHIVE = [
    ([Member("../evil.txt")], "would be written outside"),
    ([Member("a/../../evil.txt")], "would be written outside"),
    ([Member("/etc/cron.d/evil")], "would be written outside"),
    ([Member("..\\..\\evil.txt")], "would be written outside"),
    ([Member("ok.txt"), Member("link", "/etc/passwd")], "points outside"),
    ([Member("d/link", "../../x")], "points outside"),
    ([Member("hard", "../x", hardlink=True)], "points outside"),
]


ARCHIVE += [
    # symlink chains: inside on paper, outside once the kernel follows the archive's own links
    ([Member("sub", "."), Member("sub/sub/sub/link", "../../../x")], "points outside"),
    ([Member("a", "."), Member("a/a/b", "../..")], "points outside"),
    ([Member("d", "."), Member("d/d/../../evil.txt")], "would be written outside"),
    ([Member("l", "."), Member("l/l/l/l/l/m", "../../../../../../etc")], "points outside"),
    ([Member("deep/a", ".."), Member("deep/a/a/b", "../../..")], "points outside"),
    ([Member("a", "b/c"), Member("b/c", "."), Member("a/a/a/x", "../../../..")], "points outside"),
]


@pytest.mark.parametrize(("members", "message"), ARCHIVE)
def test_archive_slip(members: list[Member], message: str) -> None:
    finding = judge("/tmp/extract", write=True, members=members)
    assert finding is not None and finding.rule == "file.archive-slip"
    assert message in finding.message


def test_archive_benign_members() -> None:
    members = [Member("a.txt"), Member("dir/b.txt"), Member("dir/../c.txt"), Member("d/link", "../a.txt"),
               Member("請求書.pdf"), Member("hard", "dir/b.txt", hardlink=True)]
    assert judge("/tmp/extract", write=True, members=members) is None


@pytest.mark.parametrize("members", [
    [Member("current", "v2"), Member("v2/app.py"), Member("current/lib/x.py")],  # a release layout
    [Member("sub", "."), Member("sub/sub/f.txt"), Member("sub/link", "f.txt")],
    [Member("lib/libz.so", "libz.so.1"), Member("lib/libz.so.1", "libz.so.1.3"), Member("lib/libz.so.1.3")],
    [Member("loop", "loop"), Member("loop/x")],  # ELOOP: the extraction fails by itself
    [Member("a", "b"), Member("b", "a"), Member("a/x")],
    [Member("d/up", ".."), Member("d/up/d/f.txt")],
    [Member("a", "b/c"), Member("b/c", ".."), Member("a/f.txt")],  # b/c is the root: f.txt lands there
    [Member("deep/a", ".."), Member("deep/a/a/a/f")],
])
def test_archive_links_that_stay_inside(members: list[Member]) -> None:
    assert judge("/tmp/extract", write=True, members=members) is None


MEMBERS_WRITTEN = [
    # (path the code's own loop built, climbing member names of the archives it read, slips)
    ("/tmp/extract/../evil.txt", ("../evil.txt",), True),
    ("/tmp/evil.txt", ("../evil.txt",), True),  # the code normalised the joined path
    ("/tmp/extract/a/../../../etc/cron.d/x", ("a/../../../etc/cron.d/x",), True),
    ("/etc/cron.d/x", ("/etc/cron.d/x",), True),  # os.path.join(dest, "/etc/cron.d/x")
    ("/tmp/extract/../../x", ("..\\..\\x",), True),  # the code turned \ into /
    ("/tmp/extract/ok.txt", ("../evil.txt",), False),
    ("/tmp/extract/sub/../ok.txt", ("sub/../ok.txt",), False),
    ("/tmp/extract/x/notevil.txt", ("../evil.txt",), False),
    ("/tmp/extract/a.txt", (), False),
    # issue 11: where a tar link member points, from the archive's root, planted by os.symlink in the loop
    ("/tmp/extract/../..", ("../..",), True),  # ln -> ../..: os.symlink's target, joined to the link's dir
    ("/tmp/extract/sub/../../x", ("../x",), True),  # sub/ln -> ../../x
    ("/tmp/outside", ("/tmp/outside",), True),  # ln -> /tmp/outside
    ("/tmp/extract/sub/../d/f", ("sub/ln",), False),  # sub/ln -> ../d/f stays inside: not remembered
]


@pytest.mark.parametrize(("path", "names", "slips"), MEMBERS_WRITTEN)
def test_archive_members_written_by_the_codes_own_loop(path: str, names: tuple, slips: bool) -> None:
    finding = fa.detect(FileAccess(path, True, names=names), Inputs([]), DEFAULTS)
    assert (finding is not None and finding.rule == "file.archive-slip") is slips, finding


def test_gate_remembers_only_climbing_member_names() -> None:
    gate = fa.Gate(fa.rules_for(DEFAULTS), Inputs([]))
    for name in ("a.txt", "dir/b.txt", "../evil.txt", "/etc/x", "..\\y", "../evil.txt"):
        gate.read_member(name)
    assert gate.archive_names == ("../evil.txt", "/etc/x", "..\\y")
    assert not gate.clear("/tmp/evil.txt") and gate.clear("/tmp/extract/a.txt")
    for index in range(200):
        gate.read_member(f"../{index}")
    assert len(gate.archive_names) == fa.MAX_ARCHIVE_NAMES


def test_archive_members_meet_the_deny_rules() -> None:
    opts = options(deny_write=["*.so"])
    finding = judge("/tmp/extract", write=True, members=[Member("lib/evil.so")], opts=opts)
    assert finding.rule == "file.deny-write"


def test_globs() -> None:
    globs = fa.compile_globs(("/a/*/c", "/x/**/z", "*.pem", "/q/[ab]?", "~/.aws"))
    assert globs.match(("/a/b/c",)) and globs.match(("/a/b/c/d",))
    assert not globs.match(("/a/b/b/c",))
    assert globs.match(("/x/1/2/3/z",)) and globs.match(("/deep/key.pem",))
    assert globs.match(("/q/a1",)) and not globs.match(("/q/c1",))
    assert globs.match((os.path.expanduser("~/.aws/credentials"),))
    assert fa.compile_globs(()) is None


def test_fast_path_gate() -> None:
    inputs = Inputs([Input("path", "/users/42"), Input("query.f", "../x"), Input("query.n", "environ")])
    gate = fa.Gate(fa.rules_for(DEFAULTS), inputs)
    assert gate.clear("/tmp/work/report.pdf")
    assert gate.clear("/var/task/templates/index.html")  # sensitive location, but no input in it
    assert not gate.clear("/tmp/work/../x")
    assert not gate.clear("/proc/self/status")  # resolved through /proc/self: judged in full
    assert not gate.clear("/var/task/environ")  # an input in a sensitive location
    assert not gate.clear("./data.json")
    assert not gate.clear("/tmp/x")  # where "../x" lands once the code normalised the path
    assert gate.clear("/tmp/xylophone.txt")
    parsed = fa.Gate(fa.rules_for(DEFAULTS), Inputs([Input("query.u", "file:///etc/hosts"), Input("query.g", "../*")]))
    assert not parsed.clear("/etc/hosts") and not parsed.clear("/tmp/work/..")
    assert parsed.clear("/tmp/work/hosts.txt")
    for path in ("/tmp/work/report.pdf", "/var/task/templates/index.html"):
        assert fa.detect(FileAccess(path), inputs, DEFAULTS) is None


def test_proc_paths_resolve_through_existing_components_only(tmp_path) -> None:
    # /proc/self/root is "/": what follows is judged where it really is, missing components as written
    opts = options(deny_read=[f"{tmp_path}/**"])
    assert judge(f"/proc/self/root{tmp_path}/missing/dir/file", opts=opts).rule == "file.deny-read"
    assert judge(f"/proc/self/root{tmp_path}/missing/dir/", opts=opts).rule == "file.deny-read"
    assert fa._realpath(f"/proc/self/root{tmp_path}/missing/x") == f"{tmp_path}/missing/x"
    assert fa._realpath("/proc/self/") == os.path.realpath("/proc/self/")


def test_proc_link_that_cannot_be_read_is_judged_as_written() -> None:
    # another user's /proc/<pid>/cwd: readlink fails, and so would the open
    path = "/proc/1/cwd/x"
    try:
        os.readlink("/proc/1/cwd")
    except OSError:
        assert fa._realpath(path) == path
    else:
        assert fa._realpath(path) == os.path.realpath(path)
    judge(path)  # no exception either way


def test_paths_longer_than_the_kernel_accepts_are_judged_lexically() -> None:
    path = "/proc/self/" + "a/" * 10_000 + "environ"
    assert len(path) > 2 * 4096
    assert fa._forms(path) == (path,)
    assert judge("/proc/self/environ/" + "a/" * 10_000 + "../" * 10_000).rule == "file.deny-read"


def test_an_input_that_occurs_many_times_is_judged_on_its_first_occurrences() -> None:
    path = "/var/task/" + "ab/" * 1000 + "app.py"
    assert judge(path, "ab") is None  # /var/task is the code's choice: the input only adds segments
    assert judge("/var/" + "task/" * 3, "task/task").rule == "file.sensitive"


@pytest.mark.parametrize(("pattern", "path", "covered"), [
    # globs the regular expression would backtrack on are run as an automaton: same answers
    ("/var/**/secret/**/key", "/var/a/secret/b/c/key", True),
    ("/var/**/secret/**/key", "/var/secret/key", False),  # ** spans at least the slashes around it
    ("/var/**/secret/**/key", "/var/a/secret/b/key/below", True),
    ("/var/**/secret/**/key", "/var/a/secret/b/keys", False),
    ("**/a/**/b", "/x/a/y/b", True),
    ("**/a/**/b", "/x/a/y/c", False),
    ("/tmp/*a*b*", "/tmp/xaybz", True),
    ("/tmp/*a*b*", "/tmp/xa/b", False),  # * stays in one segment
    ("*.d/**/*.pem", "/etc/ssl.d/x/y/k.pem", True),
    ("/srv/**/[!.]*/*.?y", "/srv/a/b/c/x.py", True),
    ("/srv/**/[!.]*/*.?y", "/srv/a/.b/x.py", False),
])
def test_globs_with_several_variable_parts(pattern: str, path: str, covered: bool) -> None:
    assert (fa.compile_globs((pattern,)).match((path,)) is not None) is covered
    assert fa._backtracks(pattern)


def test_globs_with_several_variable_parts_skip_paths_no_file_can_have() -> None:
    globs = fa.compile_globs(("/var/**/secret/**/key",))
    assert globs.match(("/var/" + "secret/" * 1000 + "x/key",)) is not None
    assert globs.match(("/var/" + "secret/" * 2000 + "x/key",)) is None  # past 8 kB: the open fails anyway
