"""The book follows the course's site (issue #18): it builds warning-free for every folder under
sites/, no page of one site names another site's login host, launch command or cluster name, a
copied site needs no other change, and a bad site file stops the build naming the key.

Real builds only (jupyter-book, with -W -n): the default site's is the session's `built_book`;
every other site is built once per session here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Dict, List

import pytest
from conftest import ROOT, jupyter_book

pytestmark = pytest.mark.slow

SITES = sorted(p.parent.name for p in (ROOT / "sites").glob("*/site.toml"))
DEFAULT = "dsmlp"
_BUILT: Dict[str, Path] = {}


def build(source: Path, out: Path, site: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COURSE_SITE": site, "PYTHONPATH": str(source)}
    return subprocess.run([jupyter_book(), "build", str(source), "--path-output", str(out), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=600, cwd=str(source), env=env)


def copy_repository(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".git", "_build", ".venv", "__pycache__", ".pytest_cache",
                                                              ".mypy_cache", ".ruff_cache", "*.pyz"))
    return dest


@pytest.fixture(scope="session")
def site_books(built_book, tmp_path_factory) -> Dict[str, Path]:
    """Every site's built book (_build/html), each built once per session."""
    for name in SITES:
        if name in _BUILT:
            continue
        if name == DEFAULT:
            _BUILT[name] = built_book
            continue
        out = tmp_path_factory.mktemp(f"book-{name}")
        proc = build(ROOT, out, name)
        assert proc.returncode == 0, f"the book for {name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        _BUILT[name] = out / "_build" / "html"
    return _BUILT


def names_of(name: str) -> List[str]:
    """What identifies a site: its login host, launch commands and cluster names."""
    from checks.site import load_site

    site = load_site(ROOT / "sites" / name)
    out = [site.login_host, site.cluster, site.cluster_long]
    out += [s for s in (site.launch_script, site.gpu_launch_script) if s]
    if site.slurm:
        out.append("salloc")
    return out


def files_naming(html: Path, words: List[str]) -> List[str]:
    found = []
    pattern = re.compile("|".join(re.escape(w) for w in words), re.I)
    for path in sorted(html.rglob("*")):
        if path.is_file() and path.suffix in (".html", ".js", ".txt", ".md", ".ipynb", ".svg", ".json", ".inv", ""):
            text = path.read_text(encoding="utf-8", errors="replace")
            if path.name == "objects.inv":  # Sphinx's inventory: four header lines, then zlib
                raw = path.read_bytes().split(b"\n", 4)
                text = b"\n".join(raw[:4]).decode() + "\n" + zlib.decompress(raw[4]).decode("utf-8", "replace")
            for match in pattern.finditer(text):
                around = text[max(0, match.start() - 60):match.end() + 20]
                found.append(f"{path.relative_to(html)}: {match.group(0)!r} in ...{around!r}")
    return found


def visible(path: Path) -> str:
    """A built page's text without its tags (code blocks are split into highlighted spans)."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def test_every_site_has_a_book():
    assert DEFAULT in SITES and len(SITES) >= 2


def test_the_leak_detector_sees_every_kind_of_file(built_book):
    """What the test below reads: pages, downloadable sources, notebooks, search index, inventory."""
    found = "\n".join(files_naming(built_book, ["dsmlp-login.ucsd.edu", "The campus cluster"]))
    for kind in ("lessons/cluster.html", "_sources/lessons/cluster.md", "_sources/lessons/selfcheck-laptop.ipynb",
                 "searchindex.js", "objects.inv", "_images/cluster-path.svg"):
        assert kind + ":" in found, kind


@pytest.mark.parametrize("name", SITES)
def test_book_names_no_other_site(site_books, name):
    html = site_books[name]
    assert (html / "lessons" / "cluster.html").is_file() and not (html / "lessons" / "dsmlp.html").exists()
    mine = {w.lower() for w in names_of(name)}
    others = sorted({w for other in SITES if other != name for w in names_of(other) if w.lower() not in mine})
    found = files_naming(html, others)
    assert not found, f"the book for {name} names another site:\n" + "\n".join(found[:30])
    text = visible(html / "lessons" / "cluster.html")
    from checks.site import load_site

    site = load_site(ROOT / "sites" / name)
    assert site.login_host in text and (site.launch_script or site.values()["launch_command"]) in text


def test_slurm_book_shows_the_slurm_steps_and_machine(site_books):
    html = site_books["example-hpc"]
    cluster = visible(html / "lessons" / "cluster.html")
    jupyter = visible(html / "lessons" / "jupyter.html")
    assert "salloc -c 2 --mem=8G" in cluster and "Example University HPC" in cluster
    assert "jupyter lab --no-browser --ip=$(hostname) --port=8888" in jupyter
    assert "ssh -N -L 8889:node042:8888 jdoe@login.hpc.example.edu" in jupyter
    assert "8889:node042:8888" in (html / "_images" / "port-forward.svg").read_text(encoding="utf-8")
    # the notebooks ran on this site's machines: the server is the Slurm job on node042
    server = visible(html / "lessons" / "selfcheck-server.html")
    assert "62.3 GB free of 107.4 GB" in server  # the disk of sites/example-hpc/machines/server
    download = (html / "_sources" / "lessons" / "selfcheck-server.ipynb").read_text(encoding="utf-8")
    assert '"example_site": "example-hpc"' in download and "{{" not in download.replace('{{ "{{" }}', "")
    assert "~/.ssh/example-hpc" in visible(html / "lessons" / "selfcheck-laptop.html")
    # the student's review of this book (09:40): the facts a first-timer needs on a Slurm cluster
    login = cluster.index("ssh <username>@login.hpc.example.edu")
    assert "connect to the VPN first" in cluster[:login] and "Connection timed out" in cluster[:login]
    assert "use_interactive_step" in cluster and "hostname" in cluster and "module load python/3.11" in cluster
    assert "-t 2:00:00" in cluster and "launch script" not in cluster
    start = jupyter.index("jupyter lab --no-browser")
    assert "module load jupyterlab" in jupyter[:start]  # Jupyter is loaded before it is started
    assert "Use the one with your node's name, never the 127.0.0.1 one" in jupyter
    assert "srun --jobid=<job-id> --overlap --pty bash" in jupyter and "Slurm 20.11" in jupyter
    habits = visible(html / "lessons" / "remote-habits.html")
    assert "nohup does not help inside" in habits and "python train.py" not in habits
    assert "nohup python" not in visible(html / "book" / "cheat-sheet.html")
    assert "container" not in visible(html / "book" / "index.html")
    for page in ("lessons/assignment-1.html", "lessons/selfcheck-laptop.html"):
        assert "Launch a server" not in visible(html / page) and "your launch printed" not in visible(html / page)
    server = visible(html / "lessons" / "selfcheck-server.html")
    assert "scp selfcheck-laptop.json jdoe@login.hpc.example.edu:" not in server  # a placeholder, not Jo's name
    assert "scp selfcheck-laptop.json <username>@login.hpc.example.edu:" in server and "launched" not in server
    troubles = visible(html / "book" / "troubleshooting.html")
    assert "queued and waiting for resources" in troubles and "jupyter: command not found" in troubles
    assert "ssh -N -L 8889:<node>:<port> <username>@login.hpc.example.edu" in troubles


def test_slurm_book_has_one_report_command_per_half_naming_the_user(site_books):
    """The Slurm URL has no /user/<name>/: the laptop report says who the student is with --user."""
    import shlex

    from test_book_commands import SERVER_REPORT, report_commands

    from checks.cli import build_parser

    found = report_commands(site_books["example-hpc"])
    laptop = 'python3 selfcheck.pyz --url "<the URL Jupyter printed>" --user <username> --json --output selfcheck-laptop.json'
    assert set(found) == {laptop, SERVER_REPORT}, found
    assert {"lessons/assignment-1.html", "lessons/selfcheck-laptop.html"} <= set(found[laptop])
    argv = shlex.split(laptop.replace("<the URL Jupyter printed>", "http://node042:8888/lab?token=" + "0" * 48)
                       .replace("<username>", "jdoe"))
    args = build_parser().parse_args(argv[2:])
    assert args.user == "jdoe" and args.json and args.output == "selfcheck-laptop.json"


def test_slurm_example_outputs_speak_slurm(site_books):
    server = visible(site_books["example-hpc"] / "lessons" / "selfcheck-server.html")
    assert "this is your own computer" not in server
    assert "salloc -c 2 --mem=8G" in server  # the fix for the job's 4 GB, in the resources table


def test_a_copied_site_needs_no_other_change(tmp_path):
    repo = copy_repository(tmp_path / "repo")
    shutil.copytree(repo / "sites" / "dsmlp", repo / "sites" / "mycampus")
    toml = repo / "sites" / "mycampus" / "site.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("dsmlp-login.ucsd.edu", "gateway.mycampus.example.org")
                    .replace('cluster = "DSMLP"', 'cluster = "Campus Compute"'), encoding="utf-8")
    proc = build(repo, tmp_path / "out", "mycampus")
    html = tmp_path / "out" / "_build" / "html"
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert not files_naming(html, ["dsmlp-login.ucsd.edu"]), files_naming(html, ["dsmlp-login.ucsd.edu"])[:10]
    assert "gateway.mycampus.example.org" in (html / "lessons" / "cluster.html").read_text(encoding="utf-8")
    pyz = html / "selfcheck.pyz"
    with zipfile.ZipFile(pyz) as z:
        assert "site=mycampus" in z.read("checks/_course.txt").decode()
        assert "gateway.mycampus.example.org" in z.read("checks/_site.toml").decode()
    # the single file, run as a student would, away from the repository, gives the new host
    away = tmp_path / "away"
    away.mkdir()
    shutil.copy(pyz, away / "selfcheck.pyz")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_SITE", "PYTHONPATH")}
    run = subprocess.run([sys.executable, "selfcheck.pyz", "explain", "user@x: Permission denied (publickey)."],
                         cwd=away, env=env, capture_output=True, text=True, timeout=60)
    assert "gateway.mycampus.example.org" in run.stdout and "dsmlp-login" not in run.stdout, run.stdout + run.stderr


def test_bad_site_file_and_unknown_key_stop_the_build(tmp_path):
    repo = copy_repository(tmp_path / "repo")
    bad = repo / "sites" / "broken"
    shutil.copytree(repo / "sites" / "dsmlp", bad)
    (bad / "site.toml").write_text((bad / "site.toml").read_text(encoding="utf-8")
                                   .replace("local_port = 8889", "local_port = 80"), encoding="utf-8")
    proc = build(repo, tmp_path / "out1", "broken")
    assert proc.returncode != 0 and "tunnel.local_port" in proc.stdout + proc.stderr
    cli = subprocess.run([sys.executable, "-m", "checks", "validate-site", str(bad)], cwd=repo, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(repo)})
    assert cli.returncode == 2 and "tunnel.local_port" in cli.stderr and "Traceback" not in cli.stderr
    page = repo / "lessons" / "setup.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee {{ site.no_such_key }}.\n", encoding="utf-8")
    proc = build(repo, tmp_path / "out2", "dsmlp")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "lessons/setup.md" in out and "site.no_such_key" in out


def test_templates_name_the_page_and_the_key():
    """The page templating itself (book/_ext/selfcheck_site.py), without a build."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import selfcheck_site as templating
    finally:
        sys.path.remove(str(ROOT / "book" / "_ext"))
    out = templating.render("ssh {{ site.example_user }}@{{site.login_host}} `{{ site.<key> }}`", "example-hpc", "p.md")
    assert out == "ssh jdoe@login.hpc.example.edu `{{ site.<key> }}`"
    assert "{{" not in templating.render("{{ site.book.launch_big }}", "dsmlp", "p.md")  # values may use values
    with pytest.raises(templating.SiteTemplateError, match=r"p\.md: .*site\.nope.*example-hpc"):
        templating.render("a {{ site.nope }} b", "example-hpc", "p.md")
    with pytest.raises(templating.SiteTemplateError, match=r"p\.md: .*snippet: nothing.*sites/dsmlp/snippets/nothing\.md"):
        templating.render("{{ snippet: nothing }}", "dsmlp", "p.md")


def test_validate_site_accepts_every_shipped_site():
    for name in SITES:
        proc = subprocess.run([sys.executable, "-m", "checks", "validate-site", f"sites/{name}"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0 and "valid" in proc.stdout, proc.stderr
