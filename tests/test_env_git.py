"""env.packages (installed metadata, --compare), git.sync (a real git), and the notebook API."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from helpers import make_ctx
from realssh import require

import checks
from checks import expectations, render
from checks.model import Status
from checks.registry import select
from checks.runner import run_specs


def dist(root: Path, name: str, version: str) -> None:
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def pkg_ctx(tmp_path: Path, packages=(), compare=None):
    site = tmp_path / "site"
    site.mkdir(parents=True, exist_ok=True)
    exp = expectations.load().replace(packages=tuple(packages))
    ctx = make_ctx(tmp_path, side="server", exp=exp, compare=compare)
    ctx.python_path = [str(site)]
    return ctx, site


def test_packages_match_the_assignment(tmp_path) -> None:
    ctx, site = pkg_ctx(tmp_path, [("pandas", ">=2.0,<3"), ("scikit-learn", "==1.5.*")])
    dist(site, "pandas", "2.2.3")
    dist(site, "scikit_learn", "1.5.2")
    assert run_specs(ctx, select(["env.packages"]))["env.packages"].status is Status.PASS


def test_wrong_and_missing_packages_fail_with_the_pip_command(tmp_path) -> None:
    ctx, site = pkg_ctx(tmp_path, [("pandas", ">=2.0"), ("numpy", ">=1.26")])
    dist(site, "pandas", "1.5.3")
    result = run_specs(ctx, select(["env.packages"]))["env.packages"]
    assert result.status is Status.FAIL
    assert "numpy is missing" in result.summary and "pandas 1.5.3 (wanted >=2.0)" in result.summary
    assert list(result.fix.commands) == ["python3 -m pip install 'numpy>=1.26' 'pandas>=2.0'"]


def test_compare_lists_every_package_whose_version_differs(tmp_path) -> None:
    laptop, site = pkg_ctx(tmp_path / "laptop")
    for name, version in (("pandas", "2.2.3"), ("numpy", "2.1.0"), ("requests", "2.32.0")):
        dist(site, name, version)
    report = run_specs(laptop, select(["env.packages"]))
    saved = tmp_path / "laptop.json"
    saved.write_text(render.json_text(report))
    server, site2 = pkg_ctx(tmp_path / "server", compare=str(saved))
    for name, version in (("pandas", "2.2.3"), ("numpy", "1.26.4"), ("torch", "2.5.0")):
        dist(site2, name, version)
    result = run_specs(server, select(["env.packages"]))["env.packages"]
    assert result.status is Status.WARN
    assert "1 package(s) differ" in result.summary and "numpy 1.26.4 vs 2.1.0" in result.summary
    assert list(result.fix.commands) == ["python3 -m pip install 'numpy==2.1.0'"]


def test_compare_with_a_bad_report_says_why(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    ctx, _ = pkg_ctx(tmp_path, compare=str(bad))
    result = run_specs(ctx, select(["env.packages"]))["env.packages"]
    assert result.status is Status.FAIL and "cannot read" in result.summary


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=30,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def git_result(repo: Path):
    ctx = make_ctx(repo, side="laptop", env={"PATH": "/usr/bin:/bin", "HOME": str(repo)})
    ctx.cwd = repo
    return run_specs(ctx, select(["git.sync"]))["git.sync"]


def test_git_sync_with_a_real_repository(tmp_path) -> None:
    require(subprocess.run(["git", "--version"], capture_output=True).returncode == 0, "git is missing")
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(work))
    (work / "train.py").write_text("print('hi')\n")
    (tmp_path / "nowhere").mkdir()
    nowhere = git_result(tmp_path / "nowhere")
    assert nowhere.status is Status.SKIP and "not inside a git repository" in nowhere.summary
    git(work, "add", "train.py")
    git(work, "commit", "-qm", "first")
    assert "no upstream" in git_result(work).summary or "not pushed" in git_result(work).summary
    git(work, "push", "-q", "-u", "origin", "main")
    assert git_result(work).status is Status.PASS
    (work / "train.py").write_text("print('changed')\n")
    result = git_result(work)
    assert result.status is Status.WARN and "not committed" in result.summary
    git(work, "commit", "-qam", "second")
    result = git_result(work)
    assert result.status is Status.WARN and "1 commit(s) not pushed" in result.summary
    assert list(result.fix.commands) == ["git push"]
    (work / "src").mkdir()
    inner = git_result(work / "src")  # from a subfolder, the message names the repository's top
    assert inner.status is Status.WARN and inner.observed["repository"] == str(work)
    (work / ".git" / "HEAD").write_text("garbage\n")  # a repository git cannot read
    broken = git_result(work)
    assert broken.status is Status.SKIP and broken.summary.startswith("git status failed: ")


def test_notebook_api_returns_a_report_that_renders(tmp_path) -> None:
    (tmp_path / "home").mkdir()
    report = checks.ssh(side="laptop", home=str(tmp_path / "home"))
    assert callable(checks.ssh) and callable(checks.tunnel) and callable(checks.resources)
    assert report["ssh.dir"].status is Status.FAIL
    html = report._repr_html_()
    assert "<table>" in html and "ssh.dir" in html
    assert str(report).splitlines()[-1].startswith("1 problem found")
    assert json.loads(report.to_json())["results"][0]["id"].startswith("ssh.")
    assert "tunnel.url" in checks.tunnel(url="http://dsmlp-login:1234/user/x/?token=" + "a" * 48).to_dict()["results"][0]["id"]
    assert checks.explain("Permission denied (publickey)").matches


def test_package_versions_agree_with_importlib_metadata() -> None:
    """The folder-name reading gives what importlib.metadata gives, for this environment."""
    import re
    import sys
    from importlib import metadata

    from checks.probes.packages import installed_packages

    ctx = make_ctx(side="server")
    ctx.python_path = list(sys.path)
    mine = installed_packages(ctx)
    theirs = {}
    for d in metadata.distributions():
        theirs.setdefault(re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(), d.version)
    assert mine == theirs
