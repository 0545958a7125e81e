"""Mutation testing for ember: change one thing in the source, check that a test fails.

A mutant is one small AST-level change to one file of a copy of this checkout's last commit
(HEAD): a comparison, arithmetic or boolean operator swapped, a constant changed, a return
value or an assignment replaced by ``None``, a unary operator or a call statement removed.
Each mutant is applied alone, and the tests mapped to its file (``TESTS``) run with ``-x``; the
mutant is *killed* when a test fails (or it no longer imports, or the run passes its time
limit) and *survives* when every test passes. Each mutant also records whether the tests ran
its changed code at all (a marker call wrapped around the change), which tells "no test runs
this" from "a test runs this but does not notice".

To keep a run affordable on a small machine: one run of the unchanged tests first maps which
tests execute which mutant's span, and each mutant then runs only those (NOTE [Hit map]);
the tests run in forked children of one process that has imported pytest, NumPy, hypothesis
and torch once, one mutant at a time; a run takes a seeded random sample of mutants,
stratified by file, and reports the score with a 95% Wilson interval and the time a full run
would take.

Usage (from the repository root)::

    python tools/mutation.py list [PATH ...]              # mutants per file
    python tools/mutation.py show ID [ID ...]             # a mutant's change, as a diff
    python tools/mutation.py run --sample 300 --seed 1 --out mutation.jsonl [PATH ...]
    python tools/mutation.py run --ids ID [ID ...] --overlay tests/test_mutation_kills.py
    python tools/mutation.py report mutation.jsonl [rerun.jsonl] [--equivalent ID ...]

PATH defaults to ``ember/_ops ember/autograd``. ``list``, ``show`` and ``run`` take
``--commit`` (default HEAD): an id names a position in that commit's files, so a rerun or a
``show`` must name the commit the sample ran on. ``--overlay`` copies files of the working
tree over the HEAD copy (a test written after the last commit). ``report`` prints the score of
a results file, not counting the mutants named as equivalent.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = ("ember/_ops", "ember/autograd")

_OPS = ("tests/test_ops.py", "tests/test_more_ops.py", "tests/test_more_rows.py")
# The test files that exercise each source file, most specific (and cheapest) first: -x stops
# at the first failure, so a killed mutant rarely runs past the first file or two. A file
# absent here gets DEFAULT_TESTS. tests/test_mutation_kills.py runs last wherever it exists.
TESTS: dict[str, tuple[str, ...]] = {
    "ember/_ops/_promote.py": ("tests/test_pointwise.py", "tests/test_tensor.py", *_OPS),
    "ember/_ops/batching.py": ("tests/test_vmap.py", "tests/test_func.py"),
    "ember/_ops/creation.py": ("tests/test_creation_exact.py", "tests/test_tensor.py", *_OPS),
    "ember/_ops/fft.py": ("tests/test_fft.py",),
    "ember/_ops/indexing.py": ("tests/test_indexing.py", *_OPS),
    "ember/_ops/inplace.py": ("tests/test_inplace.py", "tests/test_ops.py"),
    "ember/_ops/linalg.py": ("tests/test_linalg.py", *_OPS),
    "ember/_ops/nn_activation.py": ("tests/test_nn_activation.py",),
    "ember/_ops/nn_attention.py": ("tests/test_nn_attention.py", "tests/test_nn_transformer.py"),
    "ember/_ops/nn_conv.py": ("tests/test_nn_conv.py",),
    "ember/_ops/nn_loss.py": ("tests/test_nn_loss.py",),
    "ember/_ops/nn_norm.py": ("tests/test_nn_norm.py", "tests/test_nn_lazy_norm.py"),
    "ember/_ops/nn_parametrize.py": ("tests/test_nn_parametrize.py",),
    "ember/_ops/nn_pool.py": ("tests/test_nn_pooling.py",),
    "ember/_ops/nn_rnn.py": ("tests/test_nn_rnn.py",),
    "ember/_ops/nn_sparse.py": ("tests/test_nn_sparse.py",),
    "ember/_ops/nn_vision.py": ("tests/test_nn_vision.py",),
    "ember/_ops/out.py": ("tests/test_out.py",),
    "ember/_ops/pointwise.py": ("tests/test_pointwise.py", *_OPS),
    "ember/_ops/random.py": ("tests/test_random.py", "tests/test_creation_exact.py"),
    "ember/_ops/reduction.py": ("tests/test_reduction.py", *_OPS),
    "ember/_ops/registry.py": ("tests/test_ops.py", "tests/test_autograd.py",
                               "tests/test_tensor.py", "tests/test_inplace.py"),
    # The advanced-index op (``INDEX``) lives in shape.py; its tests in test_indexing.py.
    "ember/_ops/shape.py": ("tests/test_shape.py", *_OPS, "tests/test_indexing.py"),
    "ember/autograd/__init__.py": ("tests/test_autograd.py", "tests/test_higher_order.py"),
    "ember/autograd/anomaly_mode.py": ("tests/test_autograd.py",),
    "ember/autograd/engine.py": ("tests/test_autograd.py", "tests/test_hooks.py",
                                 "tests/test_higher_order.py"),
    "ember/autograd/forward_ad.py": ("tests/test_forward_ad.py",),
    "ember/autograd/function.py": ("tests/test_function.py", "tests/test_autograd.py"),
    "ember/autograd/functional.py": ("tests/test_functional.py",),
    "ember/autograd/grad_mode.py": ("tests/test_autograd.py", "tests/test_tensor.py"),
    "ember/autograd/gradcheck.py": ("tests/test_autograd.py",),
    "ember/autograd/graph.py": ("tests/test_autograd.py", "tests/test_hooks.py",
                                "tests/test_graph_picture.py"),
    "ember/optim/": ("tests/test_optim.py", "tests/test_lr_scheduler.py"),
    "ember/nn/": ("tests/test_nn_module.py", "tests/test_nn_conformance.py",
                  "tests/test_nn_more.py"),
}
DEFAULT_TESTS = ("tests/test_ops.py", "tests/test_autograd.py")
KILLS_FILE = "tests/test_mutation_kills.py"


def _marker(key: int) -> str:
    """A call that notes that span ``key`` ran, in a mutation child, and answers a falsy
    value, so that ``(marker or expression)`` is the expression. Outside a child (a spawned
    worker process) the call is ``(0).__mul__(key)``: 0."""
    return f"__import__('builtins').__dict__.get('_ember_mutant_hit', (0).__mul__)({key})"


# The marker around every change (key 0: a mutant's own run only asks whether it ran).
_HIT = _marker(0)

_SWAP_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
               ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
               ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.BitXor: ast.BitAnd,
               ast.LShift: ast.RShift, ast.RShift: ast.LShift, ast.MatMult: ast.Mult}
_SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
             ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
             ast.In: ast.NotIn, ast.NotIn: ast.In}


@dataclass(frozen=True)
class Mutant:
    """One change: the text span ``(line, col)``-``(end_line, end_col)`` of ``path`` becomes
    ``new``; ``kind`` names the operator, ``ident`` is ``path:index`` in the file's order;
    ``import_time``: the span runs when the module is imported (outside function bodies)."""
    ident: str
    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    new: str
    kind: str
    statement: bool
    import_time: bool

    @property
    def span(self) -> tuple[int, int, int, int, bool]:
        return self.line, self.col, self.end_line, self.end_col, self.statement


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                ids.add(id(body[0]))
                ids.add(id(body[0].value))
    return ids


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Nodes never mutated: annotations (never evaluated under ``from __future__ import
    annotations``), f-string parts, ``__all__`` and docstrings."""
    skip = _docstring_nodes(tree)

    def drop(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            drop(node.returns)
            for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                        node.args.vararg, node.args.kwarg):
                if arg is not None:
                    drop(arg.annotation)
        elif isinstance(node, ast.AnnAssign):
            drop(node.annotation)
        elif isinstance(node, ast.JoinedStr):
            drop(node)
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            drop(node)
    return skip


def _mutations(node: ast.AST) -> list[tuple[str, ast.AST, ast.AST | None]]:
    """(kind, node replaced, replacement) triples for one node; a replacement ``None``
    removes a statement."""
    out: list[tuple[str, ast.AST | None]] = []
    if isinstance(node, ast.BinOp) and type(node.op) in _SWAP_BINOP:
        new_op = _SWAP_BINOP[type(node.op)]()
        out.append((f"binop {_sym(node.op)} -> {_sym(new_op)}",
                    ast.BinOp(node.left, new_op, node.right)))
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _SWAP_CMP:
                ops = list(node.ops)
                ops[i] = _SWAP_CMP[type(op)]()
                out.append((f"compare {_sym(op)} -> {_sym(ops[i])}",
                            ast.Compare(node.left, ops, node.comparators)))
    elif isinstance(node, ast.BoolOp):
        new_op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append((f"boolop {_sym(node.op)} -> {_sym(new_op)}", ast.BoolOp(new_op, node.values)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.Invert)):
        out.append((f"unary {_sym(node.op)} removed", node.operand))
    elif isinstance(node, ast.Constant) and not isinstance(node.value, bytes):
        value = node.value
        if isinstance(value, bool):
            out.append((f"constant {value} -> {not value}", ast.Constant(not value)))
        elif isinstance(value, (int, float)) and not isinstance(value, complex):
            out.append((f"constant {value!r} -> {value + 1!r}", ast.Constant(value + 1)))
        elif isinstance(value, str) and value:
            out.append(("string changed", ast.Constant("XX" + value + "XX")))
    elif isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        out.append(("return None", ast.Return(ast.Constant(None))))
    elif isinstance(node, ast.Lambda) and not (
            isinstance(node.body, ast.Constant) and node.body.value is None):
        # The body is replaced, not the lambda, so that the marker notes a call of it.
        return [("lambda returns None", node.body, ast.Constant(None))]
    elif isinstance(node, ast.Assign) and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        out.append(("assign None", ast.Assign(node.targets, ast.Constant(None))))
    elif isinstance(node, ast.AugAssign) and type(node.op) in _SWAP_BINOP:
        new_op = _SWAP_BINOP[type(node.op)]()
        out.append((f"augassign {_sym(node.op)}= -> {_sym(new_op)}=",
                    ast.AugAssign(node.target, new_op, node.value)))
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        out.append(("call statement removed", None))
    elif isinstance(node, ast.Raise):
        out.append(("raise removed", None))
    return [(kind, node, replacement) for kind, replacement in out]


def _sym(op: ast.AST) -> str:
    text = ast.unparse(ast.Compare(ast.Name("a"), [op], [ast.Name("b")])) \
        if isinstance(op, ast.cmpop) else None
    if text is not None:
        return text[2:-2]
    if isinstance(op, ast.boolop):
        return "and" if isinstance(op, ast.And) else "or"
    if isinstance(op, ast.unaryop):
        return ast.unparse(ast.UnaryOp(op, ast.Name("a")))[:-1].strip()
    return ast.unparse(ast.BinOp(ast.Name("a"), op, ast.Name("b")))[2:-2]


def _rendered(node: ast.AST, replacement: ast.AST | None) -> tuple[str, bool]:
    """The replacement text with its marker, and whether it replaces a statement."""
    if isinstance(node, ast.stmt):
        if replacement is None:
            return _HIT, True
        if isinstance(replacement, ast.Return):
            return f"return {_HIT} or None", True
        if isinstance(replacement, ast.Assign):
            targets = " = ".join(ast.unparse(t) for t in replacement.targets)
            return f"{targets} = {_HIT} or None", True
        target = ast.unparse(node.target)  # an AugAssign: mark, then the swapped operator
        return f"{_HIT}; {target} {_sym(replacement.op)}= {ast.unparse(node.value)}", True
    return f"({_HIT} or ({ast.unparse(replacement)}))", False


def _deferred_nodes(tree: ast.AST) -> set[int]:
    """Nodes inside function or lambda bodies: they run when called, not at import."""
    deferred = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for stmt in node.body:
                deferred.update(id(n) for n in ast.walk(stmt))
        elif isinstance(node, ast.Lambda):
            deferred.update(id(n) for n in ast.walk(node.body))
    return deferred


def mutants_of(path: str, source: str) -> list[Mutant]:
    """Every mutant of one file, in a stable order (by position, then kind)."""
    tree = ast.parse(source)
    skip = _skipped_nodes(tree)
    deferred = _deferred_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or not hasattr(node, "lineno"):
            continue
        for kind, target, replacement in _mutations(node):
            new, statement = _rendered(target, replacement)
            found.append((target.lineno, target.col_offset, kind, target.end_lineno,
                          target.end_col_offset, new, statement, id(target) not in deferred))
    found.sort(key=lambda m: (m[0], m[1], m[2]))
    return [Mutant(f"{path}:{i}", path, *fields) for i, fields in enumerate(
        (line, col, end_line, end_col, new, kind, statement, import_time)
        for line, col, kind, end_line, end_col, new, statement, import_time in found)]


def apply(source: str, mutant: Mutant) -> str:
    """``source`` with ``mutant``'s span replaced (columns are UTF-8 byte offsets)."""
    lines = source.splitlines(keepends=True)
    first = lines[mutant.line - 1].encode()
    last = lines[mutant.end_line - 1].encode()
    head = first[:mutant.col].decode()
    tail = last[mutant.end_col:].decode()
    if mutant.statement and mutant.end_line > mutant.line and not tail.strip():
        tail = "\n"
    changed = head + mutant.new + tail
    return "".join(lines[:mutant.line - 1]) + changed + "".join(lines[mutant.end_line:])


def instrument(source: str, spans: dict[tuple[int, int, int, int, bool], int]) -> str:
    """``source`` with a marker call ``_ember_mutant_hit(k)`` on each span (the spans of the
    mutants to run), otherwise unchanged: which tests run which span (NOTE [Hit map])."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for text in lines:
        starts.append(starts[-1] + len(text))

    def offset(line: int, col: int) -> int:
        return starts[line - 1] + len(lines[line - 1].encode()[:col].decode())

    marks = []
    for (line, col, end_line, end_col, statement), k in spans.items():
        call = _marker(k)
        start, end = offset(line, col), offset(end_line, end_col)
        if statement:
            marks.append((start, 1, -end, 0, call + "; "))
        else:
            marks.append((start, 1, -end, 1, f"({call} or ("))
            marks.append((end, 0, -start, 0, "))"))
    # Markers at one offset: closing ones first, inner before outer; then opening ones,
    # outer (and a statement's) before inner.
    marks.sort()
    pieces, last = [], 0
    for at, _, _, _, text in marks:
        pieces += [source[last:at], text]
        last = at
    return "".join(pieces) + source[last:]


def python_files(paths: list[str], tree: Path) -> list[str]:
    files = []
    for entry in paths:
        full = tree / entry
        if full.is_file():
            files.append(entry)
        else:
            files.extend(sorted(str(p.relative_to(tree)) for p in full.rglob("*.py")))
    return files


def tests_for(path: str, tree: Path) -> list[str]:
    """The test files run against a mutant of ``path``, in order."""
    selected = TESTS.get(path)
    if selected is None:
        prefixes = [p for p in TESTS if p.endswith("/") and path.startswith(p)]
        selected = TESTS[max(prefixes, key=len)] if prefixes else DEFAULT_TESTS
    files = [t for t in selected if (tree / t).exists()]
    if (tree / KILLS_FILE).exists():
        files.append(KILLS_FILE)
    return files


def resolve(commit: str) -> str:
    """The full hash of ``commit`` (``HEAD`` by default): mutant ids are positions in the
    files of one commit, so every command names the commit it read."""
    return subprocess.run(["git", "rev-parse", "--verify", commit + "^{commit}"], cwd=REPO,
                          capture_output=True, text=True, check=True).stdout.strip()


def copy_checkout(dest: Path, overlay: list[str], commit: str) -> None:
    """The files of ``commit`` under ``dest``, plus ``overlay`` files taken from the working
    tree."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    for rel in overlay:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / rel)


class _Recorder:
    """pytest plugin of a child: the first failing test, seconds per test file, and which
    markers each test ran (``""``: those run while collecting)."""

    def __init__(self) -> None:
        self.failed: str | None = None
        self.seconds: dict[str, float] = {}
        self.failures: list[str] = []
        self.hits: dict[str, set[int]] = {"": set()}
        self.current = self.hits[""]

    def mark(self, key: int) -> None:
        self.current.add(key)

    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.current = self.hits.setdefault(nodeid, set())

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self.current = self.hits[""]

    def pytest_runtest_logreport(self, report) -> None:
        name = report.nodeid.split("::")[0]
        self.seconds[name] = self.seconds.get(name, 0.0) + report.duration
        if report.failed:
            self.failures.append(report.nodeid)
            if self.failed is None:
                self.failed = report.nodeid

    def pytest_collectreport(self, report) -> None:
        if report.failed and self.failed is None:
            self.failed = f"{report.nodeid} (collection)"


def run_child(tree: Path, args: list[str], result: Path, log: Path, timeout: float,
              write_bytecode: bool) -> dict:
    """Run pytest with ``args`` in a forked child, in ``tree``; its outcome as a dict."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.setsid()
            os.chdir(tree)
            sys.path.insert(0, str(tree))
            sys.dont_write_bytecode = not write_bytecode
            import builtins

            import pytest
            recorder = _Recorder()
            builtins._ember_mutant_hit = recorder.mark
            code = int(pytest.main(args, plugins=[recorder]))  # pytest's exit status
            ember = sys.modules.get("ember")
            if ember is not None and not ember.__file__.startswith(str(tree)):
                code = "foreign ember"  # the tests imported another ember than the copy's
            hits = {test: sorted(keys) for test, keys in recorder.hits.items() if keys}
            result.write_text(json.dumps({
                "code": code, "failed": recorder.failed, "failures": recorder.failures,
                "seconds": recorder.seconds, "hit": bool(hits), "hits": hits}))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = start + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"code": "timeout", "failed": None, "hit": True, "seconds": {},
                    "wall": time.perf_counter() - start}
        time.sleep(0.05)
    outcome = json.loads(result.read_text()) if result.exists() else {
        "code": f"crash {status}", "failed": None, "hit": True, "seconds": {}}
    result.unlink(missing_ok=True)
    outcome["wall"] = time.perf_counter() - start
    return outcome


def sample(mutants: dict[str, list[Mutant]], size: int, seed: int) -> list[Mutant]:
    """``size`` mutants drawn without replacement, each file's share proportional to its
    number of mutants (largest remainders; at least one per file)."""
    total = sum(len(m) for m in mutants.values())
    shares = {f: size * len(m) / total for f, m in mutants.items() if m}
    counts = {f: max(1, math.floor(s)) for f, s in shares.items()}
    for f in sorted(shares, key=lambda f: shares[f] - math.floor(shares[f]), reverse=True):
        if sum(counts.values()) >= size:
            break
        counts[f] += 1
    rng = random.Random(seed)
    picked = []
    for f in sorted(counts):
        picked.extend(rng.sample(mutants[f], min(counts[f], len(mutants[f]))))
    return picked


def wilson(killed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion ``killed / n``."""
    if n == 0:
        return 0.0, 1.0
    p = killed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _all_mutants(paths: list[str], tree: Path) -> dict[str, list[Mutant]]:
    return {f: mutants_of(f, (tree / f).read_text()) for f in python_files(paths, tree)}


def cmd_list(args) -> int:
    with tempfile.TemporaryDirectory(prefix="ember-mutation-") as tmp:
        tree = Path(tmp) / "tree"
        copy_checkout(tree, [], resolve(args.commit))
        mutants = _all_mutants(args.paths, tree)
    for f, m in mutants.items():
        print(f"{len(m):6d}  {f}")
    print(f"{sum(len(m) for m in mutants.values()):6d}  in all")
    return 0


def _find(ids: list[str], tree: Path) -> list[Mutant]:
    by_file: dict[str, list[Mutant]] = {}
    found = []
    for ident in ids:
        path, _, index = ident.rpartition(":")
        if path not in by_file:
            by_file[path] = mutants_of(path, (tree / path).read_text())
        found.append(by_file[path][int(index)])
    return found


def cmd_show(args) -> int:
    with tempfile.TemporaryDirectory(prefix="ember-mutation-") as tmp:
        tree = Path(tmp) / "tree"
        commit = resolve(args.commit)
        copy_checkout(tree, [], commit)
        print(f"# commit {commit}")
        for mutant in _find(args.ids, tree):
            source = (tree / mutant.path).read_text()
            print(f"# {mutant.ident}  line {mutant.line}  {mutant.kind}")
            sys.stdout.writelines(difflib.unified_diff(
                source.splitlines(keepends=True), apply(source, mutant).splitlines(keepends=True),
                mutant.path, mutant.path + " (mutant)", n=1))
    return 0


def cmd_run(args) -> int:
    import hypothesis  # noqa: F401 - imported once here, shared by every forked child
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SystemExit("the mutation run compares with torch: install the test extra") from None
    out = Path(args.out)
    done = set()
    if args.resume and out.exists():
        done = {json.loads(line)["id"] for line in out.read_text().splitlines() if line}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ember-mutation-") as tmp:
        tree = Path(tmp) / "tree"
        commit = resolve(args.commit)
        copy_checkout(tree, args.overlay, commit)
        if args.ids:
            chosen = _find(args.ids, tree)
            total = None
        else:
            mutants = _all_mutants(args.paths, tree)
            total = sum(len(m) for m in mutants.values())
            chosen = sample(mutants, args.sample, args.seed)
            # A run stopped early is still a random sample.
            random.Random(args.seed).shuffle(chosen)
        chosen = [m for m in chosen if m.ident not in done]
        print(f"{len(chosen)} mutants" + (f" sampled from {total}" if total else "")
              + f" of commit {commit}", flush=True)
        hit_map = HitMap(tree, chosen, Path(tmp))
        print(f"hit map: {hit_map.wall:.0f} s over {len(hit_map.files)} test files;"
              f" failing at HEAD, left out: {hit_map.failing}", flush=True)
        with out.open("a") as sink:
            for n, mutant in enumerate(chosen, 1):
                record = run_one(tree, mutant, hit_map, Path(tmp), n, len(chosen))
                sink.write(json.dumps({**record, "commit": commit}) + "\n")
                sink.flush()
    print(f"run time {time.perf_counter() - start:.0f} s (hit map {hit_map.wall:.0f} s)")
    return report([out], [], total)


# NOTE [Hit map]
# Before the mutants run, the unchanged copy runs every mapped test file once with a marker
# call on the span of each chosen mutant (``instrument``), recording which tests run which
# span. A mutant then runs only the mapped tests that ran its span, in file order; one that
# no test ran survives without a run. A span run at import (module level) may matter to every
# test, so its mutant runs all the mapped files. The same run finds the tests that fail at
# HEAD (left out, or a mutant would look killed) and each file's time (the time limits).
class HitMap:
    """Which tests of the unchanged copy run which mutant's span (NOTE [Hit map])."""

    def __init__(self, tree: Path, chosen: list[Mutant], tmp: Path) -> None:
        self.keys: dict[tuple, int] = {}
        by_file: dict[str, dict] = {}
        for mutant in chosen:
            spans = by_file.setdefault(mutant.path, {})
            key = (mutant.path, *mutant.span)
            if key not in self.keys:
                self.keys[key] = spans[mutant.span] = len(self.keys) + 1
        sources = {path: (tree / path).read_text() for path in by_file}
        for path, spans in by_file.items():
            (tree / path).write_text(instrument(sources[path], spans))
        self.files = sorted({t for m in chosen for t in tests_for(m.path, tree)})
        try:
            outcome = run_child(tree, ["-q", "-p", "no:cacheprovider", *self.files],
                                tmp / "r.json", tmp / "hitmap.log", 4 * 3600,
                                write_bytecode=True)
        finally:
            for path, source in sources.items():
                (tree / path).write_text(source)
                for stale in (tree / path).parent.glob(f"__pycache__/{Path(path).stem}.*.pyc"):
                    stale.unlink()
        if outcome["code"] not in (0, 1):
            raise SystemExit(f"the unchanged copy's tests could not run ({outcome['code']}):\n"
                             + (tmp / "hitmap.log").read_text()[-3000:])
        self.wall = outcome["wall"]
        self.seconds = outcome["seconds"]
        self.failing = outcome["failures"]
        self.at_import = set(outcome["hits"].pop("", ()))
        self.tests_of: dict[int, list[str]] = {}
        for test, keys in outcome["hits"].items():
            if test not in self.failing:
                for key in keys:
                    self.tests_of.setdefault(key, []).append(test)

    def selection(self, mutant: Mutant, tree: Path) -> tuple[list[str], float]:
        """(pytest arguments, time limit) for one mutant; no arguments: no test runs it."""
        files = tests_for(mutant.path, tree)
        limit = 60 + 3 * sum(self.seconds.get(f, 30.0) for f in files)
        key = self.keys[(mutant.path, *mutant.span)]
        if mutant.import_time or key in self.at_import:
            deselect = [arg for test in self.failing for arg in ("--deselect", test)]
            return [*files, *deselect], limit
        tests = self.tests_of.get(key, [])
        rank = {f: i for i, f in enumerate(files)}
        tests = sorted((t for t in tests if t.split("::")[0] in rank),
                       key=lambda t: rank[t.split("::")[0]])
        return tests, limit


def run_one(tree: Path, mutant: Mutant, hit_map: HitMap, tmp: Path, n: int, of: int) -> dict:
    target = tree / mutant.path
    source = target.read_text()
    mutated = apply(source, mutant)
    record = {"id": mutant.ident, "line": mutant.line, "kind": mutant.kind}
    try:
        compile(mutated, mutant.path, "exec")
    except SyntaxError as exc:
        record.update(status="invalid", detail=str(exc))
        print(f"[{n}/{of}] {mutant.ident} invalid: {exc}", flush=True)
        return record
    selected, limit = hit_map.selection(mutant, tree)
    if not selected:
        record.update(status="survived", code=0, by=None, hit=False, tests=0, seconds=0.0)
        print(f"[{n}/{of}] {mutant.ident} line {mutant.line} {mutant.kind}: survived"
              " (no test runs it)", flush=True)
        return record
    for stale in target.parent.glob(f"__pycache__/{target.stem}.*.pyc"):
        stale.unlink()
    target.write_text(mutated)
    try:
        outcome = run_child(tree, ["-x", "-q", "-p", "no:cacheprovider", *selected],
                            tmp / "r.json", tmp / "mutant.log", limit, write_bytecode=False)
        if outcome["code"] == 4:
            # A test id that another process cannot find again (a parameter id made from an
            # object's address, such as ``ids=str`` on lambdas): run those tests' files.
            files = list(dict.fromkeys(t.split("::")[0] for t in selected if "::" in t))
            deselect = [arg for test in hit_map.failing for arg in ("--deselect", test)]
            selected = [*files, *deselect]
            outcome = run_child(tree, ["-x", "-q", "-p", "no:cacheprovider", *selected],
                                tmp / "r.json", tmp / "mutant.log", limit, write_bytecode=False)
    finally:
        target.write_text(source)
    # pytest's exit status: 1 a test failed, 2 a test file no longer imports (a collection
    # error); a run past its time limit is killed too. Any other status (a test id not
    # found, no tests) is the tool's failure, not the mutant's: "error", left out of the score.
    status = {0: "survived", 1: "killed", 2: "killed", "timeout": "killed"}.get(
        outcome["code"], "error")
    tests = sum(not arg.startswith("-") and "::" in arg for arg in selected) or "files"
    record.update(status=status, code=outcome["code"],
                  by=outcome["failed"], hit=outcome["hit"], tests=tests,
                  seconds=round(outcome["wall"], 1))
    if status != "killed":
        record["log"] = (tmp / "mutant.log").read_text()[-400:]
    print(f"[{n}/{of}] {mutant.ident} line {mutant.line} {mutant.kind}: {record['status']}"
          f"{'' if outcome['hit'] else ' (not run by the tests)'} in {outcome['wall']:.0f} s,"
          f" {tests} tests" + (f", by {outcome['failed']}" if outcome["failed"] else ""),
          flush=True)
    return record


def report(paths: list[Path], equivalent: list[str], total: int | None = None) -> int:
    """Print the score of result files (a later file's record of a mutant replaces an
    earlier one's: a rerun after a test was added)."""
    records = {}
    for path in paths:
        for line in path.read_text().splitlines():
            if line:
                record = json.loads(line)
                records[record["id"]] = record
    counted = [r for r in records.values() if r["status"] in ("killed", "survived")]
    for r in records.values():
        if r["status"] not in ("killed", "survived"):  # left out: invalid code, tool errors
            print(f"  {r['status']} {r['id']}: {r.get('detail') or r.get('code')}")
    eq = [r for r in counted if r["id"] in equivalent]
    scored = [r for r in counted if r["id"] not in equivalent]
    killed = sum(r["status"] == "killed" for r in scored)
    low, high = wilson(killed, len(scored))
    wall = sum(r.get("seconds", 0.0) for r in counted)
    print(f"mutants: {len(counted)} run, {len(eq)} equivalent, {len(scored)} scored")
    if scored:
        print(f"killed: {killed}/{len(scored)} = {killed / len(scored):.1%}"
              f" (95% Wilson interval {low:.1%} .. {high:.1%})")
    print(f"mutant time: {wall:.0f} s, {wall / max(len(counted), 1):.1f} s a mutant"
          + (f"; a full run of {total} mutants: ~{wall / len(counted) * total / 3600:.1f} h"
             if total and counted else ""))
    for r in sorted(scored, key=lambda r: r["id"]):
        if r["status"] == "survived":
            print(f"  survived {r['id']} line {r['line']} {r['kind']}"
                  + ("" if r.get("hit", True) else " (not run by the tests)"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="mutants per file")
    p.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    commands = [p]
    p = sub.add_parser("show", help="print mutants as diffs")
    p.add_argument("ids", nargs="+")
    commands.append(p)
    p = sub.add_parser("run", help="run a sample of mutants, or the mutants named")
    p.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    commands.append(p)
    for command in commands:
        command.add_argument("--commit", default="HEAD", help="the commit to mutate")
    p.add_argument("--sample", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ids", nargs="+", help="run these mutants instead of a sample")
    p.add_argument("--overlay", nargs="*", default=[],
                   help="working-tree files copied over the HEAD copy")
    p.add_argument("--out", default="mutation.jsonl", help="results, one JSON line a mutant")
    p.add_argument("--resume", action="store_true", help="skip mutants already in --out")
    p = sub.add_parser("report", help="the score of a results file")
    p.add_argument("results", nargs="+")
    p.add_argument("--equivalent", nargs="*", default=[], help="mutants judged equivalent")
    p.add_argument("--total", type=int, help="mutants in a full run, for the time estimate")
    args = parser.parse_args(argv)
    if args.command == "list":
        return cmd_list(args)
    if args.command == "show":
        return cmd_show(args)
    if args.command == "run":
        return cmd_run(args)
    return report([Path(r) for r in args.results], args.equivalent, args.total)


if __name__ == "__main__":
    sys.exit(main())
