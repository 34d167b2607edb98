"""Where am I, and is the environment the one the assignment expects?

`env.side` tells the student's own computer from the login node (the "jumpbox") and from a
server (a container, or a compute node in a Slurm job), from evidence in the environment and
`/proc/self/cgroup`.
"""

from __future__ import annotations

from ..context import Context
from ..model import Fix, Heading, Verdict, failed, passed, skipped, warned
from ..probes.packages import installed_packages, load_compare, normalise
from ..registry import check

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict


START_SERVER = Heading("Start your server from the login node with the launch script, then run the checks there",
                       "launch-script")
START_JOB = Heading("Ask Slurm for a compute node from the login node, then run the checks there", "slurm")
JOB_SHELL = Heading("Your job runs, but this shell is on the login node: open a shell on the job's compute node", "slurm")


@check("env.side", title="Where these checks run", docs="lessons/cluster.html#where-am-i",
       fixes=(START_SERVER, START_JOB, JOB_SHELL))
def side(ctx: Context) -> Verdict:
    """Which machine is this: your computer, the login node (jumpbox) or your server?

    The checks that apply differ: keys and the tunnel are checked on your computer, resources
    inside your server (the container the launch script starts, or your Slurm job's compute node).
    """
    from ..probes.slurm import slurm_job

    slurm = ctx.expectations.site.slurm
    server = "a compute node in your Slurm job" if slurm else "a server container on the cluster"
    if ctx.side == "server" and slurm_job(ctx) is not None:
        server = "a compute node in your Slurm job"
    names = {"laptop": "your own computer", "jumpbox": "the login node (jumpbox)", "server": server}
    why = ctx.side_reason or "detected"
    if ctx.side == "jumpbox" and slurm:
        again = ctx.shell.selfcheck("--side", "server")
        job = slurm_job(ctx)
        if job is not None and job.job_id:
            return warned(f"this is {names['jumpbox']} ({why}): your job {job.job_id} has its own compute node, "
                          "and the server's checks only mean something there",
                          Fix.under(JOB_SHELL, ", then run the checks in it:", ["srun --pty bash", again]),
                          expected="laptop or server", observed=ctx.side)
        return warned(f"this is {names['jumpbox']} ({why}): the lobby, not your room — the server's checks only "
                      "mean something on a compute node, in the job Slurm gives you",
                      Fix.under(START_JOB, " (when the job starts, salloc opens a shell for it):",
                                [ctx.expectations.launch_command(), again]),
                      expected="laptop or server", observed=ctx.side)
    if ctx.side == "jumpbox":
        script = ctx.expectations.launch_script
        return warned(
            f"this is {names['jumpbox']} ({why}): the lobby, not your room — the server's "
            "checks only mean something inside the container the launch script starts",
            Fix.under(START_SERVER, ":", [script, ctx.shell.selfcheck("--side", "server")]),
            expected="laptop or server", observed=ctx.side)
    return passed(f"this is {names.get(ctx.side, ctx.side)}: {why}", observed=ctx.side)


MATCHING_PYTHON = "Use a Python that matches the assignment's range"


@check("env.python", title="Python version", docs="lessons/remote-development.html#guidelines",
       fixes=(MATCHING_PYTHON,))
def python_version(ctx: Context) -> Verdict:
    """Does this Python match the version the assignment asks for?

    The same language version on your computer and on the server keeps results reproducible.
    """
    from ..probes.versions import InvalidSpec, matches

    spec = ctx.expectations.python
    version = ctx.python_version
    if not spec:
        return skipped(f"the assignment names no Python version (this is {version})", observed=version)
    try:
        ok = matches(version, spec)
    except InvalidSpec as exc:
        return failed(f"the assignment's Python range {spec!r} cannot be read: {exc}")
    if ok:
        return passed(f"Python {version} matches {spec}", expected=spec, observed=version)
    if ctx.platform.is_windows:
        fix = Fix.under(MATCHING_PYTHON, f" ({spec}): see which Pythons you have, install one in the range from "
                        "python.org if none is, then run the checks with it (py -3.12 selfcheck.pyz, say):",
                        ["py --list"])
    else:
        fix = Fix.under(MATCHING_PYTHON, f" ({spec}), for example with conda:",
                        [f"conda create -n course {ctx.shell.quote('python' + spec)}", "conda activate course"])
    return failed(f"Python {version} does not match the assignment's {spec}", fix, expected=spec, observed=version)


INSTALL_VERSIONS = "Install the versions the assignment asks for"
MAKE_OTHER_REPORT = "Make the other side's report, then compare"
SAME_VERSIONS = "Make both sides use the same versions"


@check("env.packages", title="Package versions", docs="lessons/remote-development.html#guidelines",
       fixes=(INSTALL_VERSIONS, MAKE_OTHER_REPORT, SAME_VERSIONS))
def packages(ctx: Context) -> Verdict:
    """Are the packages the assignment lists installed at matching versions, and the same on both sides?

    Read from installed metadata, without importing anything. With --compare other.json (the
    other side's JSON report) every package whose version differs is listed.
    """
    from ..probes.versions import InvalidSpec, matches

    installed = installed_packages(ctx)
    observed: Dict[str, Any] = {"installed": dict(sorted(installed.items()))}
    wrong, missing = [], []
    for name, spec in ctx.expectations.packages:
        have = installed.get(normalise(name))
        if have is None:
            missing.append((name, spec))
            continue
        try:
            if not matches(have, spec):
                wrong.append((name, spec, have))
        except InvalidSpec:
            wrong.append((name, spec, have))
    if missing or wrong:
        pins = [f"{n}{s}" for n, s in missing] + [f"{n}{s}" for n, s, _ in wrong]
        said = [f"{n} is missing (wanted {s})" for n, s in missing] + [f"{n} {h} (wanted {s})" for n, s, h in wrong]
        return failed("; ".join(said), Fix.under(INSTALL_VERSIONS, ":", [ctx.shell.pip_install(pins)]),
                      expected=dict(ctx.expectations.packages), observed=observed)
    other, problem = load_compare(ctx)
    if problem:
        return failed(f"--compare: {problem}",
                      Fix.under(MAKE_OTHER_REPORT, " (on the other side, then copy the file here):",
                                [ctx.shell.selfcheck("--json", "--output", "other-side.json")]), observed=observed)
    if other is not None:
        differ = sorted((n, installed[n], other[n]) for n in installed.keys() & other.keys() if installed[n] != other[n])
        only_here = len(installed.keys() - other.keys())
        only_there = len(other.keys() - installed.keys())
        details = [f"{n}: {a} here, {b} there" for n, a, b in differ]
        details.append(f"{only_here} package(s) only here, {only_there} only on the other side")
        observed["differ"] = {n: {"here": a, "there": b} for n, a, b in differ}
        if differ:
            return warned(f"{len(differ)} package(s) differ from the other side: "
                          + ", ".join(f"{n} {a} vs {b}" for n, a, b in differ[:5]) + ("…" if len(differ) > 5 else ""),
                          Fix.under(SAME_VERSIONS, " (here, pinned to the other side's):",
                                    [ctx.shell.pip_install(f"{n}=={b}" for n, _, b in differ[:20])]),
                          observed=observed, details=details)
        return passed(f"the {len(installed.keys() & other.keys())} packages on both sides have the same versions",
                      observed=observed, details=details)
    wanted = len(ctx.expectations.packages)
    what = f"the {wanted} package(s) the assignment lists match" if wanted else "the assignment lists no packages"
    return passed(f"{what}; {len(installed)} installed packages recorded (compare sides with --compare)",
                  expected=dict(ctx.expectations.packages) or None, observed=observed)
