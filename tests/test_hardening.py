"""The checker as the most careful program on the machine, one rule at a time (issue 12).

Each test builds the hostile thing for real (a named pipe, /dev/zero behind a link, a 2 GB sparse
file, a config whose `Match exec` would create a marker, a repository whose fsmonitor, filter and
hook would), runs the real component (ssh, git, the reader) and checks the answer and that the
marker was never made. test_adversarial.py runs the same classes through the command line and
the single file as processes.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import make_ctx
from realssh import require

from checks import expectations, files, render
from checks.cli import main
from checks.model import Status
from checks.platform import FixRefused, Platform
from checks.probes import cgroups, openssh
from checks.probes.jupyter import parse_url
from checks.registry import select
from checks.runner import make_context, run_specs

TOKEN = "0123456789abcdef" * 4


def laptop(tmp_path: Path, **options):
    ctx = make_ctx(tmp_path, side="laptop", env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, **options)
    ctx.platform = Platform("linux", uid=os.getuid())
    return ctx


def home_with_key(tmp_path: Path, keyring) -> Path:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    os.chmod(ssh, 0o700)
    shutil.copy(keyring["ed25519"], ssh / "id_ed25519")
    shutil.copy(str(keyring["ed25519"]) + ".pub", ssh / "id_ed25519.pub")
    os.chmod(ssh / "id_ed25519", 0o600)
    return ssh


def sparse(path: Path, size: int = 2 << 30) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


# -- the reader ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, problem, reason", [
    ("fifo", files.NOT_REGULAR, "is not a regular file (it is a named pipe)"),
    ("zero", files.NOT_REGULAR, "is not a regular file (it is a device)"),
    ("folder", files.NOT_REGULAR, "is not a regular file (it is a folder)"),
    ("sparse", files.TOO_LARGE, "is too large to be a key (2147483648 bytes; at most 1048576 expected)"),
    ("dangling", files.MISSING, "does not exist"),
    ("loop", files.LINK, "is a symbolic link that leads back to itself"),
])
def test_the_reader_refuses_what_is_not_a_small_regular_file(tmp_path: Path, kind, problem, reason) -> None:
    path = tmp_path / "thing"
    if kind == "fifo":
        os.mkfifo(path)  # a read would wait forever for a writer
    elif kind == "zero":
        path.symlink_to("/dev/zero")  # a read would never end
    elif kind == "folder":
        path.mkdir()
    elif kind == "sparse":
        sparse(path)
    elif kind == "dangling":
        path.symlink_to(tmp_path / "nothing")
    else:
        path.symlink_to(path)
    with pytest.raises(files.FileProblem) as info:
        files.read_text(path, 1 << 20, what="a key")
    assert info.value.kind == problem and info.value.reason.startswith(reason)


def test_the_reader_never_follows_a_link_when_told_not_to(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("x")
    (tmp_path / "link").symlink_to("real")
    assert files.read_text(tmp_path / "link", 10).text == "x"
    with pytest.raises(files.FileProblem) as info:
        files.read_text(tmp_path / "link", 10, follow=False)
    assert info.value.kind == files.LINK


@pytest.mark.parametrize("encoding, mark", [("utf-8", b""), ("utf-8-sig", b""), ("utf-16-le", b"\xff\xfe"),
                                            ("utf-16-be", b"\xfe\xff")])
def test_the_reader_reads_utf8_with_or_without_a_mark_and_utf16(tmp_path: Path, encoding, mark) -> None:
    text = "ssh-ed25519 AAAA é ключ\n"
    path = tmp_path / "f"
    path.write_bytes(mark + text.encode(encoding))
    got = files.read_text(path, 1 << 10)
    assert got.text == text and got.encoding == encoding and got.bom == (encoding != "utf-8")


def test_procfs_reads_are_bounded_but_partial(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text("processor : 0\n" * 1000)
    assert len(files.read_optional(tmp_path / "cpuinfo", 100)) == 100
    os.mkfifo(tmp_path / "pipe")
    assert files.read_optional(tmp_path / "pipe", 100) is None


# -- programs: a process group of their own ------------------------------------------------------

def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A program that starts a child and hangs: the timeout takes the child too (no orphan)."""
    ctx = make_ctx(tmp_path, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    done = ctx.run(["sh", "-c", "sleep 300 & echo $!; wait"], timeout=1)
    assert done.timed_out and done.returncode is None
    child = int(done.stdout.split()[0])
    for _ in range(100):  # SIGKILL is delivered at once; the kernel may take a moment to reap
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            state = "gone"
        if state in ("gone", "Z", "X"):
            break
        time.sleep(0.05)
    assert state in ("gone", "Z", "X"), f"the child {child} outlived the timeout ({state})"


def test_a_program_gets_no_terminal_and_a_bad_argument_is_an_answer(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    done = ctx.run(["sh", "-c", "cut -d' ' -f6 /proc/$$/stat"], timeout=10)  # field 6: the session id
    assert done.ok and int(done.stdout) != os.getsid(0), "the program shares the checker's session"
    nul = ctx.run(["echo", "a\0b"], timeout=5)
    assert nul.returncode is None and "could not start" in nul.error


# -- ssh -G runs nothing ------------------------------------------------------------------------

def _ssh_home(tmp_path: Path, keyring, config: str) -> Path:
    require(shutil.which("ssh") is not None, "ssh is missing (openssh-client)")
    ssh = home_with_key(tmp_path, keyring)
    (ssh / "config").write_text(config)
    os.chmod(ssh / "config", 0o600)
    return ssh


def test_match_exec_is_never_run_and_is_named(tmp_path: Path, keyring) -> None:
    marker = tmp_path / "MARKER"
    ssh = _ssh_home(tmp_path, keyring, f"Host *\n    ServerAliveInterval 30\nInclude {tmp_path}/home/.ssh/extra\n")
    (ssh / "extra").write_text(f'Match exec "touch {marker}; sleep 30"\n    User someone\n')
    report = run_specs(laptop(tmp_path), select(["ssh.config", "ssh.key.present"]))
    result = report["ssh.config"]
    assert not marker.exists()
    assert result.status is Status.WARN and "cannot be judged" in result.summary
    assert any("extra line 1: Match exec" in d for d in result.details)
    assert report["ssh.key.present"].status is Status.PASS  # the defaults, as ssh would try them


def test_match_exec_that_ssh_would_skip_does_not_stop_the_judgement(tmp_path: Path, keyring) -> None:
    marker = tmp_path / "MARKER"
    _ssh_home(tmp_path, keyring, f'Match host elsewhere.example exec "touch {marker}"\n    User x\n')
    result = run_specs(laptop(tmp_path), select(["ssh.config"]))["ssh.config"]
    assert not marker.exists()
    assert result.status is Status.PASS, result.summary


def test_ssh_config_fails_when_ssh_itself_cannot_read_it(tmp_path: Path, keyring) -> None:
    _ssh_home(tmp_path, keyring, f"Include {tmp_path}/home/.ssh/config\n")  # an Include loop
    result = run_specs(laptop(tmp_path), select(["ssh.config"]))["ssh.config"]
    assert result.status is Status.FAIL and "recursive" in result.summary, result.summary


def test_live_login_never_runs_a_proxy_command(tmp_path: Path, keyring) -> None:
    marker = tmp_path / "MARKER"
    _ssh_home(tmp_path, keyring, f"Host *\n    ProxyCommand touch {marker}\n")
    ctx = laptop(tmp_path, live=True, user="student")
    result = run_specs(ctx, select(["ssh.client", "ssh.login"]))["ssh.login"]
    assert result.status is Status.SKIP and "proxycommand" in result.summary
    assert not marker.exists()


# -- git runs nothing the repository says --------------------------------------------------------

def test_git_status_runs_no_fsmonitor_filter_or_hook_and_writes_nothing(tmp_path: Path) -> None:
    require(shutil.which("git") is not None, "git is missing")
    repo = tmp_path / "repo"
    marks = {name: tmp_path / name for name in ("FSMONITOR", "FILTER", "PROCESS", "HOOK")}

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=30)

    repo.mkdir()
    git("init", "-q")
    (repo / "a.txt").write_text("one\n")
    (repo / ".gitattributes").write_text("a.txt filter=evil\nb.txt filter=worse\n")
    (repo / "b.txt").write_text("two\n")
    git("add", "-A")
    git("-c", "user.email=a@b", "-c", "user.name=n", "commit", "-qm", "x")
    git("config", "core.fsmonitor", f"touch {marks['FSMONITOR']}; false")
    git("config", "filter.evil.clean", f"touch {marks['FILTER']}; cat")
    git("config", "filter.worse.process", f"touch {marks['PROCESS']}; false")
    git("config", "filter.worse.required", "true")
    hook = repo / ".git" / "hooks" / "post-index-change"
    hook.write_text(f"#!/bin/sh\ntouch {marks['HOOK']}\n")
    os.chmod(hook, 0o755)
    time.sleep(1.1)  # a new mtime: git must look inside the files again, through their filters
    (repo / "a.txt").write_text("one\n")
    (repo / "b.txt").write_text("two\n")
    index = repo / ".git" / "index"
    before = (index.read_bytes(), index.stat().st_mtime_ns)
    ctx = make_ctx(tmp_path, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)})
    ctx.cwd = repo
    result = run_specs(ctx, select(["git.sync"]))["git.sync"]
    assert [name for name, path in marks.items() if path.exists()] == []
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before
    assert result.status is Status.WARN and "no upstream" in result.summary, result.summary
    # ... and plain git would have run them: the repository is as hostile as it looks.
    subprocess.run(["git", "-C", str(repo), "status"], capture_output=True, timeout=30)
    assert marks["FSMONITOR"].exists() or marks["FILTER"].exists() or marks["HOOK"].exists()


# -- input never becomes an option ----------------------------------------------------------------

@pytest.mark.parametrize("user", ["-oProxyCommand=touch x", "a b", "é", "x;id", "", "a\nb", "-"])
def test_a_user_name_that_could_be_an_option_is_a_usage_error(user: str) -> None:
    out, err = __import__("io").StringIO(), __import__("io").StringIO()
    assert main(["--user", user, "--only", "env.side"], stdout=out, stderr=err) == 2
    assert "not a user name" in err.getvalue() and "Traceback" not in err.getvalue()


@pytest.mark.parametrize("path_user", ["-oProxyCommand=touch%20x", "%2DoProxyCommand", "a%0Ab", "%C3%A9", "x%3Bid",
                                       "%1b%5b31m"])
def test_a_user_name_in_the_url_is_validated_before_use(path_user: str) -> None:
    parsed = parse_url(f"http://dsmlp-login:12733/user/{path_user}/?token={TOKEN}")
    assert parsed.user == "" and not parsed.ok
    assert any("is not a user name" in p for p in parsed.problems)


@pytest.mark.parametrize("token", [f"{TOKEN}%0a{TOKEN}", f"{TOKEN}%0d%0aX-Evil: 1", f"{TOKEN}%C3%A9",
                                   f"{TOKEN}%00", f"{TOKEN}%20{TOKEN}", "%FF%FE" + TOKEN])
def test_a_token_that_cannot_be_sent_is_an_answer_and_never_shows(token: str) -> None:
    url = f"http://dsmlp-login:12733/user/bob/?token={token}"
    ctx = make_context(url=url, side="laptop")
    report = run_specs(ctx, select(["tunnel.url", "tunnel.token"]))
    assert report["tunnel.url"].status is Status.FAIL
    assert "not a valid Jupyter token" in report["tunnel.url"].summary
    assert report["tunnel.token"].status is Status.SKIP
    for view in (render.text(report), render.text(report, verbose=True), render.json_text(report),
                 render.html(report)):
        assert TOKEN not in view


def test_headers_are_built_only_from_visible_ascii() -> None:
    from checks.probes.net import http_get

    answer = http_get(1, "/api", 1.0, headers={"Authorization": f"token {TOKEN}\nX: y"})
    assert answer.outcome == "error" and TOKEN not in answer.error
    assert http_get(1, "/user/a b/api", 1.0).outcome == "error"


# -- --fix: only tighter, only ~, ~/.ssh and its files, never through a link ---------------------

def test_fix_tightens_only_below_the_home_and_never_through_a_link(tmp_path: Path, keyring) -> None:
    ssh = home_with_key(tmp_path, keyring)
    home = ssh.parent
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    (shared / "key").write_bytes(keyring["ed25519"].read_bytes())
    os.chmod(shared / "key", 0o666)
    (ssh / "id_rsa").symlink_to(shared / "key")
    deep = ssh / "sub"
    deep.mkdir()
    (deep / "f").write_text("x")
    os.chmod(deep / "f", 0o666)
    platform = Platform("linux", uid=os.getuid())
    mode = lambda p: stat.S_IMODE(os.lstat(p).st_mode)  # noqa: E731
    for target, why in ((ssh / "id_rsa", "symbolic link"), (shared, "only your home folder"),
                        (shared / "key", "only your home folder"), (deep / "f", "only your home folder"),
                        (home.parent, "only your home folder")):
        with pytest.raises(FixRefused) as info:
            platform.tighten(home, target, 0o600)
        assert why in info.value.reason
    assert mode(shared) == 0o1777 and mode(shared / "key") == 0o666 and mode(deep / "f") == 0o666
    os.chmod(ssh / "id_ed25519", 0o644)
    assert platform.tighten(home, ssh / "id_ed25519", 0o600) == (0o644, 0o600)
    os.chmod(ssh / "id_ed25519", 0o400)
    assert platform.tighten(home, ssh / "id_ed25519", 0o600) == (0o400, 0o400)  # never loosens
    # ~/.ssh itself a link to the shared folder: refused, the shared folder keeps its mode.
    shutil.rmtree(ssh)
    ssh.symlink_to(shared)
    with pytest.raises(FixRefused):
        platform.tighten(home, ssh, 0o755)
    assert mode(shared) == 0o1777


def test_fix_through_the_checks_reports_a_refusal_as_a_detail(tmp_path: Path, keyring) -> None:
    ssh = home_with_key(tmp_path, keyring)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "key").write_bytes(keyring["ed25519"].read_bytes())
    os.chmod(shared / "key", 0o644)
    (ssh / "id_ed25519").unlink()
    (ssh / "id_ed25519").symlink_to(shared / "key")
    ctx = laptop(tmp_path, fix=True)
    result = run_specs(ctx, select(["ssh.dir", "ssh.key.present", "ssh.key.permissions"]))["ssh.key.permissions"]
    assert result.status is Status.FAIL and result.fix.commands
    assert any("--fix did not change ~/.ssh/id_ed25519: it is a symbolic link" in d for d in result.details)
    assert stat.S_IMODE(os.stat(shared / "key").st_mode) == 0o644 and ctx.changes == []


# -- verdicts that were wrong -------------------------------------------------------------------

@pytest.mark.parametrize("setup, says", [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.mkdir(), "is not a regular file (it is a folder)"),
    (lambda p: os.mkfifo(p), "is not a regular file (it is a named pipe)"),
    (lambda p: p.symlink_to("/dev/zero"), "is not a regular file (it is a device)"),
    (lambda p: p.symlink_to(p.parent / "gone"), "is a symbolic link to nothing"),
    (lambda p: sparse(p), "is too large to be a key"),
])
def test_what_is_at_the_key_name_is_said_not_no_key(tmp_path: Path, keyring, setup, says) -> None:
    ssh = home_with_key(tmp_path, keyring)
    (ssh / "id_ed25519").unlink()
    setup(ssh / "id_ed25519")
    result = run_specs(laptop(tmp_path), select(["ssh.dir", "ssh.key.present"]))["ssh.key.present"]
    assert result.status is Status.FAIL
    assert f"~/.ssh/id_ed25519 {says}" in result.summary and "ssh-keygen would ask to overwrite it" in result.summary


def test_a_pub_file_that_is_a_device_or_huge_says_so(tmp_path: Path, keyring) -> None:
    ssh = home_with_key(tmp_path, keyring)
    (ssh / "id_ed25519.pub").unlink()
    (ssh / "id_ed25519.pub").symlink_to("/dev/zero")
    checks = select(["ssh.dir", "ssh.key.present", "ssh.key.format", "ssh.key.pair"])
    result = run_specs(laptop(tmp_path), checks)["ssh.key.pair"]
    assert "is not a regular file (it is a device)" in result.summary
    (ssh / "id_ed25519.pub").unlink()
    sparse(ssh / "id_ed25519.pub")
    result = run_specs(laptop(tmp_path), checks)["ssh.key.pair"]
    assert "is too large to be a public key" in result.summary


def test_a_root_owned_ssh_folder_is_not_yours(tmp_path: Path) -> None:
    (tmp_path / "home" / ".ssh").mkdir(parents=True, mode=0o755)
    ctx = laptop(tmp_path)
    ctx.platform = Platform("linux", uid=os.getuid() or 1000)  # a student, and root's folder
    os.chown(tmp_path / "home" / ".ssh", 0, -1) if os.getuid() == 0 else None
    result = run_specs(ctx, select(["ssh.dir"]))["ssh.dir"]
    if os.getuid() == 0:
        assert result.status is Status.FAIL and "belongs to root, not you" in result.summary
    ctx.platform = Platform("linux", uid=os.stat(tmp_path / "home" / ".ssh").st_uid)  # its owner: yours
    assert run_specs(ctx, select(["ssh.dir"]))["ssh.dir"].status is Status.PASS


@pytest.mark.parametrize("text, count", [("0-3", 4), ("3-0", None), ("0-3,7-5", None), ("8", 1), ("2-2", 1)])
def test_a_reversed_cpu_range_is_unknown_not_negative(text: str, count) -> None:
    assert cgroups.parse_cpu_list(text) == count


def test_with_no_limit_the_usable_count_is_observed(tmp_path: Path) -> None:
    proc = tmp_path / "proc" / "self"
    proc.mkdir(parents=True)
    (proc / "cgroup").write_text("0::/\n")
    (proc / "status").write_text("Cpus_allowed_list:\t0-7\n")
    (tmp_path / "proc" / "meminfo").write_text("MemTotal:       16384000 kB\n")
    (tmp_path / "sys" / "devices" / "system" / "cpu").mkdir(parents=True)
    (tmp_path / "sys" / "devices" / "system" / "cpu" / "online").write_text("0-7\n")
    report = run_specs(make_ctx(tmp_path, side="server"), select(["resources.cpus", "resources.memory"]))
    cpus, memory = report["resources.cpus"], report["resources.memory"]
    assert cpus.status is Status.WARN and cpus.observed["usable"] == 8 and "you may use all 8" in cpus.summary
    assert memory.status is Status.WARN and memory.observed["usable_bytes"] == 16384000 * 1024


def test_escape_sequences_and_undecodable_bytes_in_names_are_printed_safely(tmp_path: Path, keyring) -> None:
    ssh = home_with_key(tmp_path, keyring)
    (ssh / "id_ed25519").rename(ssh / "key\x1b[2J\x1b]0;owned\x07")
    os.rename(str(ssh / "id_ed25519.pub"), os.fsencode(str(ssh)) + b"/\xff\xfe.pub")
    bad = os.fsencode(str(ssh)) + b"/stray\xff"
    shutil.copy(keyring["rsa3072"], bad)
    report = run_specs(laptop(tmp_path), select(["ssh.dir", "ssh.key.present"]))
    text = render.text(report, verbose=True)
    assert "\x1b" not in text and "\x07" not in text and "\\x1b[2J" in text
    text.encode("utf-8")  # no lone surrogate left to crash a UTF-8 terminal
    doc = render.json_text(report)
    assert "\x1b" not in json.loads(doc)["results"][1]["summary"]
    doc.encode("utf-8")
    assert "\x1b" not in render.html(report)


# -- instructors' files, fully validated -------------------------------------------------------

GOOD = (ROOT / "checks" / "assignments" / "methodology-1.toml").read_text()
# The optional overrides of the site's values ([server], [tunnel]) are validated as strictly.
GOOD = GOOD.replace("\n[ssh]", '\n[server]\nlogin_host = "dsmlp-login.ucsd.edu"\nlaunch_script = "launch-scipy-ml.sh"\n'
                    '\n[tunnel]\nlocal_port = 8889\nforward_host = "127.0.0.1"\n\n[ssh]')


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('"env.side", ', '"env.sidez", '), "checks names no check: 'env.sidez'"),
    (lambda t: t.replace('checks = ["env.side", "ssh", "tunnel", "resources", "env", "git"]', "checks = []"),
     "checks is empty"),
    (lambda t: t.replace('key_types = ["ed25519", "ecdsa", "rsa"]', "key_types = []"), "ssh.key_types is empty"),
    (lambda t: t.replace("cpus = 2", "cpus = nan"), "resources.cpus is nan"),
    (lambda t: t.replace("cpus = 2", "cpus = inf"), "resources.cpus is inf"),
    (lambda t: t.replace("memory_gb = 8", "memory_gb = -8"), "resources.memory_gb is -8"),
    (lambda t: t.replace("min_free_disk_gb = 1", "min_free_disk_gb = -1"), "resources.min_free_disk_gb is -1"),
    (lambda t: t.replace("gpus = 0", "gpus = 99999999999999999"), "resources.gpus is 99999999999999999"),
    (lambda t: t.replace("min_rsa_bits = 2048", "min_rsa_bits = 9223372036854775807"), "ssh.min_rsa_bits is"),
    (lambda t: t.replace("local_port = 8889", "local_port = 9223372036854775807"), "tunnel.local_port is"),
    (lambda t: t.replace('python = ">=3.9"', 'python = "3.9 or newer"'), "env.python is '3.9 or newer'"),
    (lambda t: t + '\npackages = { pandas = "at least 2" }\n', "env.packages.pandas is 'at least 2'"),
    (lambda t: t + "\npackages = { \"pan das\" = \">=2\" }\n", "env.packages has the key 'pan das'"),
    (lambda t: t.replace('checks = ["env.side"', "deep = " + "[" * 5000 + "]" * 5000 + '\nchecks = ["env.side"'),
     "nested too deeply"),
    (lambda t: t.replace('login_host = "dsmlp-login.ucsd.edu"', 'login_host = "-oProxyCommand=touch x"'),
     "server.login_host is '-oProxyCommand=touch x'"),
    (lambda t: t.replace('launch_script = "launch-scipy-ml.sh"', "launch_script = \"x; rm -rf ~\""),
     "server.launch_script is 'x; rm -rf ~'"),
    (lambda t: t.replace('forward_host = "127.0.0.1"', 'forward_host = "a b"'), "tunnel.forward_host is 'a b'"),
    (lambda t: t.replace('title = "Methodology Assignment 1"', 'title = "x\\u001b[2J"'), "title 'x\\x1b[2J'"),
])
def test_bad_instructor_files_exit_2_naming_the_key(tmp_path: Path, edit, message) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(expectations.ExpectationsError) as info:
        expectations.load(str(path))
    assert message in str(info.value)
    out, err = __import__("io").StringIO(), __import__("io").StringIO()
    assert main(["--expectations", str(path), "--only", "env.side"], stdout=out, stderr=err) == 2
    assert "Traceback" not in err.getvalue() and "\x1b" not in err.getvalue()


@pytest.mark.parametrize("kind", ["fifo", "zero", "sparse", "folder"])
def test_an_expectations_file_that_is_no_file_is_exit_2_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "e.toml"
    {"fifo": lambda: os.mkfifo(path), "zero": lambda: path.symlink_to("/dev/zero"),
     "sparse": lambda: sparse(path), "folder": lambda: path.mkdir()}[kind]()
    out, err = __import__("io").StringIO(), __import__("io").StringIO()
    assert main(["--expectations", str(path)], stdout=out, stderr=err) == 2
    assert "is not a regular file" in err.getvalue() or "is too large" in err.getvalue()


@pytest.mark.parametrize("shadow", ["file", "folder"])
def test_a_file_named_like_a_shipped_assignment_never_shadows_it(tmp_path: Path, shadow: str,
                                                                   monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    evil = GOOD.replace("cpus = 2", "cpus = 64").replace('login_host = "dsmlp-login.ucsd.edu"',
                                                         'login_host = "evil.example"')
    if shadow == "file":
        (tmp_path / "methodology-1").write_text(evil)
    else:
        (tmp_path / "methodology-1").mkdir()
    for name in ("methodology-1", None):
        exp = expectations.load(name)
        assert exp.login_host == "dsmlp-login.ucsd.edu" and exp.cpus == 2 and exp.source == "methodology-1.toml"


def test_utf16_inputs_read_whatever_the_terminal_encoding(tmp_path: Path, keyring) -> None:
    """An expectations file, a --compare report and a --pubkey file saved by PowerShell 5.1 (UTF-16
    with a mark) read the same under any PYTHONIOENCODING and locale."""
    exp = tmp_path / "exp.toml"
    exp.write_bytes(b"\xff\xfe" + GOOD.replace("Methodology Assignment 1", "Méthodologie ✓").encode("utf-16-le"))
    report = tmp_path / "other.json"
    doc = {"schema": 1, "results": [{"id": "env.packages", "observed": {"installed": {"pandas": "2.2.3"}}}]}
    report.write_bytes(b"\xff\xfe" + json.dumps(doc).encode("utf-16-le"))
    pub = tmp_path / "key.pub"
    pub.write_bytes(b"\xff\xfe" + Path(str(keyring["ed25519"]) + ".pub").read_text().encode("utf-16-le"))
    home = tmp_path / "home" / ".ssh"
    home.mkdir(parents=True)
    shutil.copy(pub, home / "authorized_keys")  # sshd cannot read this one: it must say so
    for io_encoding in ("ascii", "cp1252", "utf-16", "latin-1"):
        env = {**os.environ, "PYTHONIOENCODING": io_encoding, "LANG": "C", "LC_ALL": "C", "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-m", "checks", "--expectations", str(exp), "--side", "server",
                               "--compare", str(report), "--pubkey", str(pub), "--home", str(tmp_path / "home"),
                               "--only", "env.packages,ssh.authorized_keys", "--json"],
                              capture_output=True, timeout=120, env=env, cwd=str(tmp_path))
        assert b"Traceback" not in proc.stderr, proc.stderr
        out = json.loads(proc.stdout.decode(io_encoding if io_encoding != "utf-16" else "utf-16"))
        results = {r["id"]: r for r in out["results"]}
        assert "cannot read" not in results["env.packages"]["summary"], results["env.packages"]
        ak = results["ssh.authorized_keys"]
        assert ak["status"] == "fail" and "UTF-16" in ak["summary"], ak


def test_on_windows_a_match_exec_config_is_not_given_to_ssh_at_all(tmp_path: Path, keyring) -> None:
    """Win32-OpenSSH runs Match exec without $SHELL, so there the config is not handed to ssh.
    Windows cannot run here: the platform is the Windows stand-in, and ssh is the real one."""
    from fakes import FakeWindowsPlatform

    marker = tmp_path / "MARKER"
    _ssh_home(tmp_path, keyring, f'Match exec "touch {marker}"\n    User x\n')
    ctx = laptop(tmp_path)
    ctx.platform = FakeWindowsPlatform()
    cfg = openssh.ssh_config(ctx)
    assert cfg.would_exec and not cfg.from_ssh and not marker.exists()
    assert [e.line_no for e in cfg.exec_lines] == [1]
