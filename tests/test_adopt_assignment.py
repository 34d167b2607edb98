"""An instructor adopts a new assignment, end to end, as the instructor guide says:

1. write the assignment file and point the one course setting (`course_assignment` in
   `_config.yml`) at it;
2. build the book: the assignment page's title, table and scoring follow it, no command on any page
   names another assignment, and the single file built with the book carries the setting;
3. 40 student reports are made with that single file, from varied homes with real key files (made
   by ssh-keygen) and the real OpenSSH client: laptop and server halves, partial, blocked, edited,
   future-dated, late, off-roster, unidentified, and missing students;
4. `selfcheck collect --roster --due --csv --gradescope`, with no --assignment: it follows the
   setting the single file carries;
5. every score and flag is asserted against the table below;
6. Gradescope's output validates against Gradescope's documented results.json fields.

The machines are simulated with `SELFCHECK_MACHINE` folders (tools/machine.py), as the book's
example outputs are: real files and real programs, in folders. The one fake is `nvidia-smi`: this
machine has no GPU, so a two-line script answers for one where the scenario has one.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from conftest import ROOT, build_book
from gradescope_results import validate_results
from realssh import require

pytestmark = pytest.mark.slow

ASSIGNMENT = """\
# Deep Learning Lab 2: a GPU server, and ed25519 keys only.
id = "lab-gpu"
title = "Deep Learning Lab 2"
checks = ["ssh", "tunnel.url", "tunnel.server", "resources", "env"]
points = { ssh = 2, "ssh.key.type" = 3, resources = 2 }

[server]
login_host = "dsmlp-login.ucsd.edu"
launch_script = "launch-scipy-ml.sh"
gpu_launch_script = "launch-scipy-ml-gpu.sh"

[ssh]
key_types = ["ed25519"]
min_rsa_bits = 2048

[tunnel]
local_port = 8890
forward_host = "127.0.0.1"

[resources]
cpus = 4
memory_gb = 16
gpus = 1
min_free_disk_gb = 1

[env]
python = ">=3.9"
packages = { pip = ">=20" }
"""
BASEURL = "https://example-course.github.io/servers"  # no final slash: links must still be right
TOKEN = "ab" * 32
# laptop: env 3x1, 8 ssh checks x2, ssh.key.type 3, tunnel.url 1, resources.disk 2;
# server: env 3x1, 2 ssh checks x2, tunnel.server 1, 4 resources checks x2
LAPTOP_POINTS, SERVER_POINTS = 25, 16

# Every student's expected row: status, score, flags (substrings, all of them; [] = no flag), halves, late.
EXPECTED: Dict[str, Dict[str, object]] = {
    "s01": dict(status="complete", score=41, flags=[], halves="agree", late=""),
    "s02": dict(status="complete", score=41, flags=[], halves="agree", late=""),
    "s03": dict(status="complete", score=41, flags=[], halves="agree", late=""),
    "s04": dict(status="complete", score=39, flags=[], halves="agree", late=""),  # key readable by others: -2
    # no ~/.ssh: ssh.dir fails and six checks wait for it (2+2+2+2+3+2+2); no authorized_keys on the server (2)
    "s05": dict(status="complete", score=41 - 15 - 2, flags=[], halves="agree", late=""),
    "s06": dict(status="complete", score=38, flags=[], halves="agree", late=""),  # an RSA key, ed25519 only: -3
    "s07": dict(status="complete", score=35, flags=[], halves="agree", late=""),  # 2 CPUs, 8 GB, no GPU: -6
    "s08": dict(status="complete", score=41, flags=[], halves="key: the laptop offers", late=""),
    "s09": dict(status="complete", score=41, flags=[], halves="python: 3.12.7 on the laptop, 3.10.12 on the server", late=""),
    "s10": dict(status="complete", score=41, flags=[], halves="packages: pip 24.2 on the laptop, 23.1 on the server",
                late=""),
    "s11": dict(status="partial (no server report)", score=LAPTOP_POINTS, flags=[], halves="", late=""),
    "s12": dict(status="partial (no laptop report)", score=SERVER_POINTS, flags=[], halves="", late=""),
    "s13": dict(status="partial (no server report)", score=3, flags=[], halves="", late=""),  # --only env
    # sed s/fail/pass/ over s05's laptop: ssh.dir now "passes", its six blocked checks still score nothing
    "s14": dict(status="complete", score=41 - 13, flags=["do not match its results", "says pass but carries a fix"],
                halves="agree", late=""),
    "s15": dict(status="complete", score=39, flags=["(not used): created 2030-01-01T00:00:00Z lies in the future"],
                halves="agree", late=""),
    "s16": dict(status="complete", score=41, flags=[], halves="agree", late=""),
    "s17": dict(status="complete", score=41, flags=[], halves="agree", late="server ("),
    "s18": dict(status="complete", score=41 - 13, flags=[], halves="agree", late=""),  # ~/.ssh without a key
    # the server half ran on the login node: tunnel.server (1) and four resources checks (4x2) did not run there
    "s19": dict(status="complete", score=41 - 9, flags=[], halves="agree", late=""),
    "s20": dict(status="missing", score=0, flags=[], halves="", late=""),
    "s21": dict(status="missing", score=0, flags=[], halves="", late=""),
    "zed": dict(status="partial (no server report)", score=LAPTOP_POINTS, flags=["not on the roster"], halves="", late=""),
}


# -- the machines ------------------------------------------------------------------------------

# The one fake (no GPU here): answers `nvidia-smi --query-gpu=<fields> --format=csv,...` for one GPU.
FAKE_NVIDIA_SMI = """#!{python}
import sys
gpu = {{"index": "0", "uuid": "GPU-8f1c2d3e-4b5a-6c7d-8e9f-0a1b2c3d4e5f", "name": "NVIDIA A30", "memory.total": "24576"}}
fields = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--query-gpu=")), "index,name")
print(", ".join(gpu.get(f, "") for f in fields.split(",")))
"""


def keygen(path: Path, kind: str = "ed25519") -> Path:
    args = ["-t", "rsa", "-b", "3072"] if kind == "rsa" else ["-t", "ed25519"]
    subprocess.run(["ssh-keygen", "-q", *args, "-N", "", "-C", path.name, "-f", str(path)], check=True,
                   capture_output=True, timeout=60)
    return path


def dist_info(site: Path, name: str, version: str) -> None:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def laptop(root: Path, name: str, key: Optional[Path] = None, key_mode: int = 0o600, ssh_dir: bool = True,
           config: str = "", python: str = "3.12.7", pip: str = "24.2", hostname: str = "") -> Path:
    """A student's laptop (Linux): a home with real key files, the real ssh on PATH."""
    machine = root / f"{name}-laptop"
    home = machine / "home"
    home.mkdir(parents=True)
    modes = {"home": "0755"}
    if ssh_dir:
        (home / ".ssh").mkdir(mode=0o700)
        modes["home/.ssh"] = "0700"
        if key is not None:
            for suffix in ("", ".pub"):
                shutil.copy(f"{key}{suffix}", home / ".ssh" / f"id_{'rsa' if 'rsa' in key.name else 'ed25519'}{suffix}")
            private = next(p for p in (home / ".ssh").iterdir() if p.suffix != ".pub")
            modes[f"home/.ssh/{private.name}"] = f"{key_mode:04o}"
            modes[f"home/.ssh/{private.name}.pub"] = "0644"
        if config:
            (home / ".ssh" / "config").write_text(config)
            modes["home/.ssh/config"] = "0600"
    dist_info(machine / "site", "pip", pip)
    (machine / "proc").mkdir()
    (machine / "sys").mkdir()
    spec = {"platform": "linux", "hostname": hostname or f"{name}-laptop", "python": python,
            "env": {"PATH": os.environ["PATH"], "USER": "student", "HOME": "{machine}/home"},
            "disk": {"total": 500 * 10**9, "free": 100 * 10**9}, "python_path": ["site"], "modes": modes}
    (machine / "machine.json").write_text(json.dumps(spec, indent=1))
    return machine


def server(root: Path, name: str, authorized: List[Path], cpus: int = 4, memory_gib: int = 16, gpu: bool = True,
           python: str = "3.12.7", pip: str = "24.2", home_mode: str = "0755") -> Path:
    """A student's server container: the book's example server, with this student's limits and keys."""
    machine = root / f"{name}-server"
    shutil.copytree(ROOT / "sites" / "dsmlp" / "machines" / "server", machine)
    cgroup = machine / "sys" / "fs" / "cgroup"
    (cgroup / "cpu.max").write_text(f"{cpus * 100000} 100000\n")
    (cgroup / "memory.max").write_text(f"{memory_gib * 2**30}\n")
    home = machine / "home"
    (home / ".ssh" / "authorized_keys").write_text("".join(Path(f"{k}.pub").read_text() for k in authorized))
    runtime = home / ".local" / "share" / "jupyter" / "runtime" / "jpserver-7.json"
    doc = json.loads(runtime.read_text())
    doc.update(base_url=f"/user/{name}/", url=f"http://{name}-12733:12733/user/{name}/", root_dir=f"/home/{name}")
    runtime.write_text(json.dumps(doc))
    shutil.rmtree(machine / "site")
    dist_info(machine / "site", "pip", pip)
    spec = json.loads((machine / "machine.json").read_text())
    spec.update(hostname=f"{name}-12733", python=python)
    spec["env"]["USER"] = name
    spec["modes"]["home"] = home_mode
    if gpu:  # the one fake: this machine has no GPU (see the module's docstring)
        smi = machine / "bin" / "nvidia-smi"
        smi.write_text(FAKE_NVIDIA_SMI.format(python=sys.executable))
        spec["modes"]["bin/nvidia-smi"] = "0755"
    (machine / "machine.json").write_text(json.dumps(spec, indent=1))
    return machine


def jumpbox(root: Path, name: str, authorized: List[Path]) -> Path:
    """The login node itself (its host name is the login host's; no container)."""
    machine = root / f"{name}-login"
    (machine / "home" / ".ssh").mkdir(parents=True)
    (machine / "home" / ".ssh" / "authorized_keys").write_text("".join(Path(f"{k}.pub").read_text() for k in authorized))
    dist_info(machine / "site", "pip", "24.2")
    (machine / "proc").mkdir()
    (machine / "sys").mkdir()
    spec = {"platform": "linux", "hostname": "dsmlp-login", "python": "3.12.7",
            "env": {"PATH": os.environ["PATH"], "USER": name, "HOME": "{machine}/home"},
            "disk": {"total": 500 * 10**9, "free": 100 * 10**9}, "python_path": ["site"],
            "modes": {"home": "0755", "home/.ssh": "0700", "home/.ssh/authorized_keys": "0600"}}
    (machine / "machine.json").write_text(json.dumps(spec, indent=1))
    return machine


# -- the test ----------------------------------------------------------------------------------


def test_a_new_assignment_end_to_end(tmp_path: Path) -> None:
    require(shutil.which("ssh-keygen") is not None and shutil.which("ssh") is not None,
            "ssh and ssh-keygen are missing (openssh-client)")
    # 1. The file, and the one setting pointing at it.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "__pycache__", ".pytest_cache"))
    (src / "checks" / "assignments" / "lab-gpu.toml").write_text(ASSIGNMENT)
    config = (src / "_config.yml").read_text()
    config, n = re.subn(r"(?m)^(\s+course_assignment:).*$", r"\1 lab-gpu", config)
    assert n == 1
    config, n = re.subn(r'(?m)^(\s+baseurl:).*$', rf"\1 {BASEURL}", config)
    assert n == 1
    (src / "_config.yml").write_text(config)

    # 2. The book follows it.
    proc = build_book(src, tmp_path / "out")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = tmp_path / "out" / "_build" / "html"
    page = (html / "lessons" / "assignment-1.html").read_text(encoding="utf-8")
    text = _text(page)
    assert "<title>Deep Learning Lab 2" in page and "<h1>Deep Learning Lab 2" in page
    for row in ("CPUs 4", "Memory 16 GB", "GPUs 1", "Local port for the tunnel 8890", "SSH key types accepted ed25519",
                "Launch command launch-scipy-ml-gpu.sh -c 4 -m 16", "Package pip >=20", "Total 41"):
        assert row in text, row
    assert "Smallest RSA key" not in text and "Methodology Assignment 1" not in text
    for built in html.rglob("*.html"):
        for block in re.findall(r"<pre>(.*?)</pre>", built.read_text(encoding="utf-8"), re.S):
            if "selfcheck" in block:
                assert "--assignment" not in block and "methodology-1" not in block, (built.name, block)
    pyz = tmp_path / "selfcheck.pyz"
    shutil.copy(html / "selfcheck.pyz", pyz)
    carried = zipfile.ZipFile(pyz).read("checks/_course.txt").decode()
    assert carried == f"assignment=lab-gpu\ndocs_url={BASEURL}/\nsite=dsmlp\n"
    check = subprocess.run([sys.executable, str(pyz), "validate", str(src / "checks" / "assignments" / "lab-gpu.toml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "24 scored checks" in check.stdout and "41 points" in check.stdout, check

    # 3. Forty reports, made with the single file.
    keys, machines, reports = tmp_path / "keys", tmp_path / "machines", tmp_path / "reports"
    for folder in (keys, machines, reports, tmp_path / "tmp"):
        folder.mkdir()
    k = {name: keygen(keys / name) for name in [f"s{i:02d}" for i in range(1, 20)] + ["zed", "other", "u1", "u2"]}
    k["s06"] = keygen(keys / "s06-rsa", "rsa")

    def run(machine: Path, out: str, *args: str) -> str:
        env = {**os.environ, "SELFCHECK_MACHINE": str(machine), "TMPDIR": str(tmp_path / "tmp")}
        done = subprocess.run([sys.executable, str(pyz), "--json", *args], capture_output=True, text=True,
                              timeout=120, env=env, cwd=tmp_path)
        assert done.returncode in (0, 1), done.stderr
        assert TOKEN not in done.stdout + done.stderr
        (reports / out).write_text(done.stdout)
        return done.stdout

    def url(name: str) -> List[str]:
        return ["--url", f"http://dsmlp-login.ucsd.edu:12733/user/{name}/?token={TOKEN}"]

    def both(name: str, **server_args: object) -> None:
        run(laptop(machines, name, k[name]), f"{name}-laptop.json", *url(name))
        run(server(machines, name, [k[name]], **server_args), f"{name}-server.json")  # type: ignore[arg-type]

    both("s01")
    run(laptop(machines, "s02", k["s02"]), "s02-laptop.json", "--user", "s02")
    run(server(machines, "s02", [k["s02"]]), "s02-server.json")
    run(laptop(machines, "s03", k["s03"], config="Host dsmlp-login.ucsd.edu\n    User s03\n"), "s03-laptop.json")
    run(server(machines, "s03", [k["s03"]]), "s03-server.json")
    run(laptop(machines, "s04", k["s04"], key_mode=0o644), "s04-laptop.json", *url("s04"))
    run(server(machines, "s04", [k["s04"]]), "s04-server.json")
    run(laptop(machines, "s05", ssh_dir=False), "s05-laptop.json", *url("s05"))
    s05 = server(machines, "s05", [])
    (s05 / "home" / ".ssh" / "authorized_keys").unlink()  # the key was never installed
    spec = json.loads((s05 / "machine.json").read_text())
    del spec["modes"]["home/.ssh/authorized_keys"]
    (s05 / "machine.json").write_text(json.dumps(spec))
    run(s05, "s05-server.json")
    both("s06")
    both("s07", cpus=2, memory_gib=8, gpu=False)
    run(laptop(machines, "s08", k["s08"]), "s08-laptop.json", *url("s08"))
    run(server(machines, "s08", [k["other"]]), "s08-server.json")  # installed another key
    run(laptop(machines, "s09", k["s09"]), "s09-laptop.json", *url("s09"))
    run(server(machines, "s09", [k["s09"]], python="3.10.12"), "s09-server.json")
    run(laptop(machines, "s10", k["s10"]), "s10-laptop.json", *url("s10"))
    run(server(machines, "s10", [k["s10"]], pip="23.1"), "s10-server.json")
    run(laptop(machines, "s11", k["s11"]), "s11-laptop.json", *url("s11"))
    run(server(machines, "s12", [k["s12"]]), "s12-server.json")
    run(laptop(machines, "s13", k["s13"]), "s13-laptop.json", "--only", "env", *url("s13"))
    edited = run(laptop(machines, "s14", ssh_dir=False), "s14-laptop.json", *url("s14"))
    (reports / "s14-laptop.json").write_text(edited.replace('"fail"', '"pass"'))  # sed s/fail/pass/
    run(server(machines, "s14", [k["s14"]]), "s14-server.json")
    honest = json.loads(run(laptop(machines, "s15", k["s15"], key_mode=0o640), "s15-laptop.json", *url("s15")))
    for result in honest["results"]:  # a careful forger: every status pass, no fixes, counts to match
        result.update(status="pass" if result["status"] != "skip" else "skip", fix=None)
    honest["counts"] = {"pass": sum(r["status"] == "pass" for r in honest["results"]), "warn": 0, "fail": 0,
                        "skip": sum(r["status"] == "skip" for r in honest["results"]), "error": 0}
    honest["created"] = "2030-01-01T00:00:00Z"
    (reports / "s15-laptop-fixed.json").write_text(json.dumps(honest, indent=2))
    run(server(machines, "s15", [k["s15"]]), "s15-server.json")
    s16 = laptop(machines, "s16", k["s16"], key_mode=0o644)
    run(s16, "s16-laptop-first.json", *url("s16"))
    time.sleep(1.1)  # `created` has whole seconds
    spec = json.loads((s16 / "machine.json").read_text())
    spec["modes"]["home/.ssh/id_ed25519"] = "0600"  # the student ran the fix
    (s16 / "machine.json").write_text(json.dumps(spec))
    run(s16, "s16-laptop-again.json", *url("s16"))
    run(server(machines, "s16", [k["s16"]]), "s16-server.json")
    run(laptop(machines, "s17", k["s17"]), "s17-laptop.json", *url("s17"))
    run(laptop(machines, "s18", None), "s18-laptop.json", *url("s18"))  # ~/.ssh, but no key in it
    run(server(machines, "s18", [k["s18"]]), "s18-server.json")
    run(laptop(machines, "s19", k["s19"]), "s19-laptop.json", *url("s19"))
    run(jumpbox(machines, "s19", [k["s19"]]), "s19-login.json")  # ran the server half on the login node
    run(laptop(machines, "zed", k["zed"]), "zed-laptop.json", *url("zed"))
    run(laptop(machines, "u1", k["u1"]), "u1-laptop.json")  # no --url, no --user: only the laptop's login name
    run(laptop(machines, "u2", k["u2"]), "u2-laptop.json")
    due = time.time()
    time.sleep(1.1)
    run(server(machines, "s17", [k["s17"]]), "s17-server.json")  # after the due time
    assert len(list(reports.iterdir())) == 40
    reports_by = {p.name: json.loads(p.read_text()) for p in reports.iterdir()}
    assert {d["assignment"] for d in reports_by.values()} == {"lab-gpu"}  # the single file's default
    assert reports_by["s03-laptop.json"]["user_source"] == "ssh_config"
    assert reports_by["s01-server.json"]["user_source"] == "server_login"
    assert reports_by["u1-laptop.json"]["user_source"] == "local_login"
    for name in ("s01-laptop.json", "s08-server.json"):  # fingerprints, never keys
        assert "ssh-ed25519 AAAA" not in (reports / name).read_text()

    # 4. Collect, with the course setting the single file carries.
    roster = tmp_path / "roster.csv"
    roster.write_text("user,name,section\n" + "".join(f"s{i:02d},Student {i},A0{i % 3}\n" for i in range(1, 22)))
    due_text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due))
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    done = subprocess.run([sys.executable, str(pyz), "collect", str(reports), "--roster", str(roster), "--due", due_text,
                           "--csv", str(tmp_path / "grades.csv"), "--gradescope", str(tmp_path / "gradescope"),
                           "--summary"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Assignment lab-gpu (the course setting built into this single file)" in done.stdout
    assert "self-reported" in done.stdout and "Not on the roster: zed" in done.stdout
    print("\n" + done.stdout)

    # 5. Every score and flag.
    rows = list(csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8")))
    by_user = {r["user"]: r for r in rows}
    assert [r["user"] for r in rows[:21]] == [f"s{i:02d}" for i in range(1, 22)]  # roster order, every student
    unidentified = [r for r in rows if r["status"] == "unidentified"]
    assert len(unidentified) == 2  # two laptops that said only "student": never one row
    assert all("not a cluster username" in r["flags"] and float(r["score"]) == LAPTOP_POINTS for r in unidentified)
    assert all(float(r["max_score"]) == 41 for r in rows) and all(r["assignment"] == "lab-gpu" for r in rows)
    table = [f"{r['user']}: {r['status']}, {r['score']}/{r['max_score']}, flags: {r['flags'] or '-'}, "
             f"halves: {r['halves'] or '-'}, late: {r['late'] or '-'}\n    lost: {r['reasons'] or '-'}" for r in rows]
    print("\n".join(table))
    for user, want in EXPECTED.items():
        row = by_user[user]
        assert row["status"] == want["status"], (user, row)
        assert float(row["score"]) == want["score"], (user, row["score"], row["reasons"])
        for flag in want["flags"]:  # type: ignore[attr-defined]
            assert flag in row["flags"], (user, flag, row["flags"])
        if not want["flags"]:
            assert row["flags"] == "", (user, row["flags"])
        assert (want["halves"] in row["halves"]) if want["halves"] else row["halves"] == "", (user, row["halves"])
        assert row["late"].startswith(want["late"]) if want["late"] else row["late"] == "", (user, row["late"])

    # 6. Gradescope: one valid file per student, never colliding; one for a single submission.
    files = sorted((tmp_path / "gradescope").iterdir())
    assert len(files) == len(rows)
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert validate_results(doc) == [], path.name
        assert len(doc["tests"]) == 24 and sum(t["max_score"] for t in doc["tests"]) == 41
    one = tmp_path / "submission"
    one.mkdir()
    for name in ("s04-laptop.json", "s04-server.json"):
        shutil.copy(reports / name, one / name)
    results = tmp_path / "results" / "results.json"
    results.parent.mkdir()
    done = subprocess.run([sys.executable, str(pyz), "collect", str(one), "--gradescope", str(results)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    doc = json.loads(results.read_text())
    assert done.returncode == 0 and validate_results(doc) == [] and doc["score"] == 39.0


def _text(page: str) -> str:
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_machines_modes_stand_as_set(tmp_path: Path) -> None:
    """The key modes the scenarios rely on survive the machine's private copy."""
    from checks.tools.machine import materialise

    key = keygen(tmp_path / "k")
    machine = laptop(tmp_path, "m", key, key_mode=0o644)
    copy = materialise(machine)
    try:
        assert stat.S_IMODE((copy / "home" / ".ssh" / "id_ed25519").stat().st_mode) == 0o644
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)
