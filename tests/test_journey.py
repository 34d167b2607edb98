"""A student's path, from the built site: download the self-check notebooks (and the single file),
open them anywhere, run them top to bottom.

The book is built for real with a published address (`html.baseurl`) that points at a plain HTTP
server on loopback, which then serves the built site, as GitHub Pages would. The notebooks run in
real kernels (nbclient) whose Python cannot import the package: the kernel starts without `site`
processing, so the course's editable install is invisible, as on a student's machine.
"""

from __future__ import annotations

import http.server
import json
import shutil
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List

import nbformat
import pytest
from conftest import ROOT, build_book
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOKS = ["lessons/selfcheck-laptop.ipynb", "lessons/selfcheck-server.ipynb"]


class Site:
    """The built book, served over HTTP on loopback (bound before the build, so the address can
    be written into the book), stopped by the fixture that started it."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Site":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _built(tmp_path_factory, course_site: str) -> Iterator[Site]:
    """The book built for a site (COURSE_SITE, as `make book SITE=` sets it) and served."""
    work = tmp_path_factory.mktemp(f"journey-{course_site}")
    book = work / "book"
    shutil.copytree(ROOT, book, ignore=shutil.ignore_patterns(".git", ".venv", "_build", "__pycache__"))
    served = Site(work / "out" / "_build" / "html")
    config = book / "_config.yml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n# added by the test\nhtml:\n  baseurl: {served.url}\n",
                      encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_SITE", course_site)
        proc = build_book(book, work / "out")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    yield from _built(tmp_path_factory, "dsmlp")


@pytest.fixture(scope="module")
def hpc_site(tmp_path_factory) -> Iterator[Site]:
    """The book for the Slurm site (sites/example-hpc), built only for the journey on it."""
    yield from _built(tmp_path_factory, "example-hpc")


def _download(url: str, dest: Path) -> Path:
    with urllib.request.urlopen(url, timeout=10) as answer:
        dest.write_bytes(answer.read())
    return dest


@pytest.fixture
def bare_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dict[str, Path]:
    """A kernel spec whose Python cannot import `checks`: no `site` (so no editable install), the
    toolchain's packages on PYTHONPATH for ipykernel alone, and a home folder of its own."""
    import site as site_module

    home = tmp_path / "home"
    home.mkdir()
    spec = tmp_path / "jupyter" / "kernels" / "bare"
    spec.mkdir(parents=True)
    packages = [p for p in site_module.getsitepackages() if Path(p).is_dir()]
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python without the course package", "language": "python",
        "env": {"PYTHONPATH": ":".join(packages), "HOME": str(home), "IPYTHONDIR": str(tmp_path / "ipython")},
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return {"home": home}


def _run(notebook: Path) -> List[str]:
    """Every output text of the notebook run top to bottom; an exception in any cell fails."""
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="bare", resources={"metadata": {"path": str(notebook.parent)}}).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out
            texts.append(out.get("text", "") if out.get("output_type") == "stream" else json.dumps(out.get("data", {})))
    return texts


def test_the_downloaded_notebooks_carry_the_books_address(site: Site) -> None:
    for name in NOTEBOOKS:
        text = urllib.request.urlopen(site.url + "_sources/" + name, timeout=10).read().decode()
        assert f'BOOK = \\"{site.url}\\"' in text


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_with_the_single_file_beside_it_runs_top_to_bottom(site: Site, bare_kernel, tmp_path: Path,
                                                                      name: str) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    notebook = _download(site.url + "_sources/" + name, folder / Path(name).name)
    _download(site.url + "selfcheck.pyz", folder / "selfcheck.pyz")
    texts = _run(notebook)
    assert "ready (from selfcheck.pyz beside this notebook)" in texts[0]


def test_a_notebook_alone_fetches_the_single_file_from_the_book(site: Site, bare_kernel, tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    notebook = _download(site.url + "_sources/" + NOTEBOOKS[0], folder / "selfcheck-laptop.ipynb")
    texts = _run(notebook)
    assert "ready (downloaded from the book to ~/selfcheck.pyz)" in texts[0]
    served = urllib.request.urlopen(site.url + "selfcheck.pyz", timeout=10).read()
    assert (bare_kernel["home"] / "selfcheck.pyz").read_bytes() == served


def test_without_an_address_or_a_file_every_cell_says_what_to_do(bare_kernel, tmp_path: Path) -> None:
    folder = tmp_path / "alone"
    folder.mkdir()
    notebook = shutil.copy(ROOT / NOTEBOOKS[0], folder / "selfcheck-laptop.ipynb")
    texts = _run(Path(notebook))
    assert texts and all("No self-checks found: download selfcheck.pyz from the book" in t for t in texts)
    assert not (bare_kernel["home"] / "selfcheck.pyz").exists()


def _commands_in(page: str, anchor: str, until: str) -> List[str]:
    """The text of each code block in a page's section, as a student's copy button gives it."""
    import html
    import re

    section = page[page.index(f'id="{anchor}"'):]
    section = section[:section.index(f'id="{until}"')] if f'id="{until}"' in section else section
    return [html.unescape(re.sub(r"<[^>]+>", "", block)).strip()
            for block in re.findall(r"<pre>(.*?)</pre>", section, re.S)]


def test_the_login_node_command_from_the_book_fetches_the_single_file(site: Site, tmp_path: Path) -> None:
    import subprocess

    page = urllib.request.urlopen(site.url + "lessons/cluster.html", timeout=10).read().decode()
    commands = _commands_in(page, "selfcheck-on-the-cluster", "where-am-i")
    fetch = [c for c in commands if "urlretrieve" in c]
    assert len(fetch) == 1 and site.url + "selfcheck.pyz" in fetch[0]
    assert any(c.startswith("scp selfcheck.pyz ") for c in commands)  # the copy from the laptop, too
    home = tmp_path / "login-node-home"
    home.mkdir()
    # Pasted as it is into bash, in the home folder of the "login node" (this machine).
    subprocess.run(["bash", "--noprofile", "--norc", "-c", fetch[0]], cwd=home, check=True, timeout=60,
                   env={"PATH": "/usr/bin:/bin", "HOME": str(home)})
    served = urllib.request.urlopen(site.url + "selfcheck.pyz", timeout=10).read()
    assert (home / "selfcheck.pyz").read_bytes() == served
    ran = subprocess.run(["python3", "-I", "selfcheck.pyz", "--only", "env.side", "--json"], cwd=home, timeout=60,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(home)})
    assert ran.returncode in (0, 1) and '"env.side"' in ran.stdout, ran.stderr


# -- the whole path: a new student, a fresh home, the fixes the single file prints ---------------

def _as_student(user, argv: List[str], **kwargs):  # type: ignore[no-untyped-def]
    return user.run(argv, timeout=120, **kwargs)


def _report(user, *args: str) -> Dict:  # type: ignore[type-arg]
    proc = _as_student(user, ["python3", "-I", "selfcheck.pyz", "--expectations", "course.toml", "--json", *args])
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return {r["id"]: r for r in json.loads(proc.stdout)["results"]}


def _failing(results: Dict) -> List[Dict]:  # type: ignore[type-arg]
    return [r for r in results.values() if r["status"] == "fail"]


def _paste(user, commands: List[str], typed: str = "\n") -> List[str]:  # type: ignore[no-untyped-def]
    """Paste a fix's commands into the student's bash, as printed, then type `typed` (what the fix
    text asks for: Enter, or a pasted key line and Ctrl+D, which ends the input). ssh-keygen asks
    for a passphrase on the terminal, which a test has not: it gets -N "" (an empty passphrase)."""
    pasted = []
    for command in commands:
        if command.startswith("ssh-keygen -t "):
            command += ' -N ""'
        proc = _as_student(user, ["bash", "--noprofile", "--norc", "-c", command], input=typed)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
        pasted.append(command)
    return pasted


# What differs on each site: its login host, the Jupyter the student reaches, and how the server
# side is recognised (a Kubernetes pod on DSMLP; a Slurm job's variables on the compute node).
JOURNEYS = {
    "dsmlp": {"login": "dsmlp-login.ucsd.edu", "ip": "127.0.0.1", "base": "/user/{user}/",
              "url": "http://dsmlp-login.ucsd.edu:{port}/user/{user}/?token={token}",
              "server_env": {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}},
    # No Slurm cluster runs here: 127.0.0.2 stands in for the compute node, and the job's
    # variables are those of tests/data/slurm/v2-job (salloc -c 8 --mem=32G on node042).
    "example-hpc": {"login": "login.hpc.example.edu", "ip": "127.0.0.2", "base": "/",
                    "url": "http://127.0.0.2:{port}/lab?token={token}",
                    "server_env": {"SLURM_JOB_ID": "3385", "SLURM_JOB_NODELIST": "node042", "SLURMD_NODENAME": "node042",
                                   "SLURM_CPUS_PER_TASK": "8", "SLURM_CPUS_ON_NODE": "8",
                                   "SLURM_MEM_PER_NODE": "32768"}},
}


@pytest.mark.parametrize("course_site", sorted(JOURNEYS))
def test_a_new_student_follows_the_fixes_to_a_working_tunnel(course_site: str, request: pytest.FixtureRequest,
                                                             user, sshd, tmp_path: Path) -> None:
    """From an empty home to a working tunnel, pasting only what the single file prints, on each site.

    The login node is a real sshd on loopback; the student's ~/.ssh/config adds only the name
    resolution a test needs (the login host's name to 127.0.0.1 and the sshd's port). The server
    is a real Jupyter Server: under /user/<name>/ on DSMLP; at / on 127.0.0.2 (the compute node)
    on the Slurm site. The tunnel command is the one the single file prints on the server, run as
    printed.
    """
    from jupyter_helpers import JupyterServer
    from realssh import free_port, stop_process, wait_port

    journey = JOURNEYS[course_site]
    login_host = journey["login"]
    site = request.getfixturevalue("site" if course_site == "dsmlp" else "hpc_site")
    user.reset_home()
    pyz = _download(site.url + "selfcheck.pyz", user.home / "selfcheck.pyz")
    local = free_port()
    course = (ROOT / "checks" / "assignments" / "methodology-1.toml").read_text(encoding="utf-8")
    assert "[tunnel]" not in course  # the assignment inherits the site's local port: this one overrides it
    (user.home / "course.toml").write_text(course + f"\n[tunnel]\nlocal_port = {local}\n")
    for path in (pyz, user.home / "course.toml"):
        user.chown(path)

    # 1. The laptop side, from nothing: follow each printed fix until no SSH check fails.
    pasted: List[str] = []
    for _ in range(6):
        failing = [r for r in _failing(_report(user, "--side", "laptop", "--only", "ssh")) if r["fix"]]
        if not failing:
            break
        pasted += _paste(user, failing[0]["fix"]["commands"])
    assert not _failing(_report(user, "--side", "laptop", "--only", "ssh")), pasted
    assert pasted and pasted[0].startswith("ssh-keygen -t ed25519")

    # 2. The login node (the same machine here): its authorized_keys, from the printed fix.
    pub = "~/.ssh/id_ed25519.pub"
    side = ["--side", "jumpbox", "--only", "ssh.authorized_keys,ssh.home.permissions", "--pubkey"]
    before = _report(user, *side, str(user.home / ".ssh" / "id_ed25519.pub"))
    assert before["ssh.authorized_keys"]["status"] == "fail", before
    # "run the command, paste the line, then press Enter and Ctrl+D": the line from the laptop's .pub
    _paste(user, before["ssh.authorized_keys"]["fix"]["commands"],
           typed=(user.home / ".ssh" / "id_ed25519.pub").read_text())
    assert not _failing(_report(user, *side, str(user.home / ".ssh" / "id_ed25519.pub"))), pub

    # 3. Name resolution for the test, then a real login with the key, no password.
    config = user.home / ".ssh" / "config"
    config.write_text(f"Host {login_host}\n    HostName 127.0.0.1\n    Port {sshd.port}\n")
    config.chmod(0o600)
    user.chown(config)
    login = _report(user, "--side", "laptop", "--live", "--only", "ssh.login", "--user", user.name)
    assert login["ssh.login"]["status"] == "pass", login

    # 4. The server: a real Jupyter (under /user/<name>/, or at / on the compute node); in its
    # terminal, the single file prints the tunnel.
    token = "f" * 64
    server = JupyterServer(journey["base"].format(user=user.name), token, tmp_path / "server", ip=journey["ip"]).start()
    tunnel = None
    try:
        container = subprocess_run([sys.executable, "-I", str(pyz), "--side", "server", "--only", "tunnel.server",
                                    "--json", "--expectations", str(user.home / "course.toml")],
                                   env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "server"), "USER": user.name,
                                        "JUPYTER_RUNTIME_DIR": str(server.runtime)})
        said = json.loads(container.stdout)["results"][0]
        assert said["status"] == "pass" and token not in container.stdout, said
        command = said["summary"].split("on your computer run: ", 1)[1].split(" — ", 1)[0]
        assert command == f"ssh -N -L {local}:{journey['ip']}:{server.port} {user.name}@{login_host}"

        # 5. On the laptop, that command as printed; then every tunnel check passes.
        import shlex
        import subprocess

        tunnel = subprocess.Popen(shlex.split(command), user=user.uid, group=user.gid, extra_groups=[],
                                  env={"HOME": str(user.home), "PATH": "/usr/bin:/bin"}, cwd=str(user.home),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_port(local, timeout=20, proc=tunnel)
        url = journey["url"].format(port=server.port, user=user.name, token=token)
        tunnel_results = _report(user, "--side", "laptop", "--only", "tunnel", "--url", url)
        assert {k: r["status"] for k, r in tunnel_results.items() if k != "tunnel.server"} == {
            "tunnel.url": "pass", "tunnel.local_port": "pass", "tunnel.jupyter": "pass", "tunnel.user": "pass",
            "tunnel.token": "pass"}

        # 6. Both reports, with the book's one report command, then the instructor's collect.
        handed_in = tmp_path / "handed-in"
        handed_in.mkdir()
        # A URL at / names no user: on such a site the laptop's report is filed under --user.
        who = [] if "{user}" in journey["url"] else ["--user", user.name]
        laptop = _as_student(user, ["python3", "-I", "selfcheck.pyz", "--expectations", "course.toml", "--url", url,
                                    *who, "--json", "--output", "selfcheck-laptop.json"])
        assert laptop.returncode in (0, 1), laptop.stderr
        shutil.copy(user.home / "selfcheck-laptop.json", handed_in / "jdoe-laptop.json")
        subprocess_run(["/usr/bin/python3", "-I", str(pyz), "--side", "server", "--expectations",
                        str(user.home / "course.toml"), "--json", "--output", str(handed_in / "jdoe-server.json")],
                       env={"PATH": "/usr/bin:/bin", "HOME": str(user.home), "USER": user.name,
                            "JUPYTER_RUNTIME_DIR": str(server.runtime), **journey["server_env"]})
        for report in handed_in.iterdir():
            assert token not in report.read_text(encoding="utf-8")
        grades = tmp_path / "grades.csv"
        collected = subprocess_run(["/usr/bin/python3", "-I", str(pyz), "collect", str(handed_in), "--csv", str(grades)],
                                   env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        import csv

        rows = {row["user"]: row for row in csv.DictReader(grades.open(encoding="utf-8"))}
        assert rows[user.name]["status"] == "complete", (rows, collected.stdout, collected.stderr)
        assert rows[user.name]["halves"] == "agree", rows[user.name]
    finally:
        if tunnel is not None:
            stop_process(tunnel)
        server.stop()


def subprocess_run(argv: List[str], env: Dict[str, str]):  # type: ignore[no-untyped-def]
    import subprocess

    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return proc
