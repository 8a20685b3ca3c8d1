"""A static read of a submission for signs of tampering with the grader.

The child process reports what it sees (:class:`grader.harness.IntegrityWatch`),
but everything in the child runs next to the student's code and can be faked.
This module reads the source instead, before anything runs: imports and
attribute paths are resolved through the file's own aliases (``import torch as
T``; ``E = T.autograd.Variable``; ``E._execution_engine``), and what looks like
tampering becomes a flag ``{"kind", "evidence"}`` in the report for the
instructor. The grader also fails the checks that *measure* something in the
child (``measures = [...]`` in the toml) when a flag shows the measurement could
be faked, and "no autograd" checks when autograd is reachable from the function
the check is about.

Kinds: ``grader-internals`` (reaching the harness or the probes), ``introspection``
(frames, the garbage collector, the modules table), ``builtins``, ``trace``
(settrace/setprofile), ``concurrency`` (threads, processes, signals), ``native``
(ctypes, torch._C, the autograd engine), ``patch`` (assigning to torch, NumPy,
builtins or sys attributes), ``fd`` (writing to file descriptors), ``autograd``
(autograd laundered: aliased at import, torch.autograd.backward, hooks).
"""
from __future__ import annotations

import ast
import threading
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Finding", "scan_source", "scan_submission", "autograd_reached", "reached", "voiding",
           "VOIDS_AT_RUNTIME", "VOIDS_IN_CHECKED_CODE"]

# What voids a check that measures inside the child: a change the child itself saw
# to the measuring machinery (whatever code made it), or a static sign of tampering in
# the code the check runs (its `uses` and what they call). A fork bomb or a file
# deleted at import touches no measurement: it costs only what it breaks.
VOIDS_AT_RUNTIME = ("patch", "modules", "trace", "thread", "reply")
VOIDS_IN_CHECKED_CODE = ("grader-internals", "introspection", "builtins", "trace", "concurrency", "native", "patch",
                         "fd", "autograd")

_GRADER_MODULES = ("grader", "_assignment_probes", "probes", "harness")
_CONCURRENCY_MODULES = ("threading", "_thread", "multiprocessing", "concurrent", "subprocess", "pty",
                        "torch.multiprocessing")
_NATIVE_MODULES = ("ctypes", "cffi", "mmap", "torch._C", "torch.utils.cpp_extension", "_ctypes")
_PATCHED_ROOTS = ("torch", "numpy", "builtins", "sys", "grader", "_assignment_probes", "importlib", "os")
_NOT_PATCHING = ("torch.backends", "os.environ")   # settings meant to be set

_CALLS = {
    "introspection": ("sys._getframe", "sys._current_frames", "inspect.currentframe", "inspect.stack",
                      "inspect.getouterframes", "inspect.getinnerframes", "inspect.trace", "gc.get_objects",
                      "gc.get_referrers", "gc.get_referents", "importlib.reload"),
    "trace": ("sys.settrace", "sys.setprofile", "threading.settrace", "threading.setprofile", "sys.addaudithook",
              "threading.settrace_all_threads", "threading.setprofile_all_threads", "sys.monitoring"),
    "concurrency": ("os.fork", "os.forkpty", "os.system", "os.popen", "os.posix_spawn", "os.posix_spawnp",
                    "os.spawnv", "os.spawnl", "os.execv", "os.execve", "os.execl", "os.register_at_fork",
                    "signal.signal", "signal.setitimer", "signal.alarm", "os.kill", "os.killpg"),
    "fd": ("os.write", "os.writev", "os.pwrite", "os.dup", "os.dup2", "os.fdopen", "os.sendfile", "os.set_blocking",
           "os.close", "os.closerange", "io.FileIO"),
}
_ATTRIBUTES = {
    "introspection": ("f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame", "cr_frame",
                      "__globals__", "__subclasses__", "__closure__"),
    "grader-internals": ("watch_autograd", "ProbeContext", "IntegrityWatch", "CallTracker", "OptimizerWatch",
                         "_assignment_probes"),
    "native": ("_execution_engine", "run_backward"),
}
_STRINGS = {
    "grader-internals": ("_assignment_probes", "grader.harness", "grader.codec", "grader.sandbox"),
    "fd": ("/proc/self/fd", "/dev/fd", "/proc/self/mem", "/proc/self/task"),
}
# Autograd (for checks of code that must not use it): what the path names, or the method called.
_AUTOGRAD_PATHS = ("torch.autograd", "torch.func", "functorch", "torch._C._functions", "torch.enable_grad",
                   "torch.set_grad_enabled", "torch.Tensor.backward", "torch.Tensor.requires_grad_")
_AUTOGRAD_SAFE = ("no_grad", "inference_mode", "set_detect_anomaly", "detect_anomaly")
_AUTOGRAD_METHODS = ("backward", "requires_grad_", "retain_grad", "register_hook")
# Autograd that no ordinary code needs: a flag whatever the check.
_LAUNDERING = ("torch.autograd.backward", "torch.autograd.graph.saved_tensors_hooks",
               "torch.autograd.graph.disable_saved_tensors_hooks", "torch.autograd.graph.save_on_cpu",
               "torch.autograd.variable", "torch.autograd.Variable._execution_engine", "torch.autograd.graph.Node",
               "torch._C._autograd")


@dataclass(frozen=True)
class Finding:
    kind: str                 # one of the kinds above, or "autograd-use" (ordinary autograd, not a flag)
    evidence: str             # "line 12: `loss.backward()`"
    where: str = "<module>"   # the top-level function or class it is in

    def flag(self) -> dict:
        where = "" if self.where == "<module>" else f" (in {self.where})"
        return {"kind": self.kind, "evidence": f"{self.evidence}{where}", "where": self.where, "source": "static"}


_PUBLIC_GRADER = ("grader.datasets",)   # the data loaders the provided helpers use


def _prefixed(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes)


class _Reader(ast.NodeVisitor):
    def __init__(self, source: str, label: str):
        self.lines = source.splitlines()
        self.label = label
        self.aliases: dict[str, str] = {}         # local name -> dotted path it stands for
        self.tainted: dict[str, str] = {}         # module-level name -> the autograd path it holds
        self.findings: list[Finding] = []
        self.where = "<module>"
        self.mentions: dict[str, set[str]] = {}   # top-level def -> names its body mentions
        self.own_methods: set[str] = set()        # every function name the file defines

    # -- helpers ---------------------------------------------------------------------------
    def _code(self, node: ast.AST) -> str:
        line = getattr(node, "lineno", 0)
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        return f"{self.label}line {line}: `{text[:120]}`"

    def add(self, kind: str, node: ast.AST) -> None:
        self.findings.append(Finding(kind, self._code(node), self.where))

    def path(self, node: ast.AST) -> str | None:
        """The dotted path an expression names, through the file's aliases."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.path(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            base = self.path(node.args[0])
            return f"{base}.{node.args[1].value}" if base else None
        return None

    def _import(self, module: str, node: ast.AST) -> None:
        if _prefixed(module, _PUBLIC_GRADER):
            return
        if _prefixed(module, _GRADER_MODULES):
            self.add("grader-internals", node)
        elif _prefixed(module, _CONCURRENCY_MODULES):
            self.add("concurrency", node)
        elif _prefixed(module, _NATIVE_MODULES):
            self.add("native", node)
        elif module == "builtins":
            self.add("builtins", node)

    # -- structure -------------------------------------------------------------------------
    def visit_Module(self, node: ast.Module) -> None:
        # `layer.backward(...)` calls the student's own method when the file defines one.
        self.own_methods = {n.name for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.where = stmt.name
                self.mentions[stmt.name] = set()
                self.generic_visit(stmt)
                self.where = "<module>"
            else:
                self.visit(stmt)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self._import(a.name, node)
            self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        self._import(module, node)
        for a in node.names:
            full = f"{module}.{a.name}"
            if not _prefixed(module, _GRADER_MODULES + _CONCURRENCY_MODULES + _NATIVE_MODULES):
                self._import(full, node)   # from torch import _C
            self.aliases[a.asname or a.name] = full
            if self._autograd(full) and self.where == "<module>":
                self.tainted[a.asname or a.name] = full
            if _prefixed(full, _LAUNDERING):
                self.add("autograd", node)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        value = self.path(node.value)
        for t in node.targets:
            self._assigned(t, node)
            if isinstance(t, ast.Name) and value and self.where == "<module>":
                self.aliases[t.id] = value          # E = torch.autograd.Variable
                if self._autograd(value):
                    self.tainted[t.id] = value
                    self.add("autograd", node)      # autograd aliased at import
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._assigned(node.target, node)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self._assigned(t, node)
        self.generic_visit(node)

    def _assigned(self, target: ast.AST, node: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._assigned(t, node)
            return
        if isinstance(target, ast.Attribute):
            base = self.path(target.value)
            full = f"{base}.{target.attr}" if base else ""
            if base and _prefixed(base, _PATCHED_ROOTS) and not _prefixed(full, _NOT_PATCHING):
                self.add("patch", node)
            if target.attr == "requires_grad":
                self._autograd_use(node)
        if isinstance(target, ast.Subscript):
            base = self.path(target.value)
            if base and (base == "sys.modules" or base.endswith("__dict__") or base.endswith("__builtins__")):
                self.add("introspection" if base == "sys.modules" else "patch", node)

    # -- expressions -----------------------------------------------------------------------
    def _autograd(self, path: str) -> bool:
        if any(s in path for s in _AUTOGRAD_SAFE):
            return False
        last = path.rsplit(".", 1)[-1]
        return _prefixed(path, _AUTOGRAD_PATHS) or last in ("_execution_engine", "run_backward") \
            or (last == "backward" and last not in self.own_methods)

    def _autograd_use(self, node: ast.AST) -> None:
        if self.where != "<module>":
            self.findings.append(Finding("autograd-use", self._code(node), self.where))

    def visit_Call(self, node: ast.Call) -> None:
        path = self.path(node.func)
        if path:
            for kind, names in _CALLS.items():
                if _prefixed(path, names):
                    self.add(kind, node)
            if path == "setattr" and node.args:
                target = self.path(node.args[0])
                if target and _prefixed(target, _PATCHED_ROOTS) and not _prefixed(target, _NOT_PATCHING):
                    self.add("patch", node)
            if path == "open" and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, int):
                self.add("fd", node)
            if _prefixed(path, _LAUNDERING):
                self.add("autograd", node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in _AUTOGRAD_METHODS \
                and node.func.attr not in self.own_methods:
            self._autograd_use(node)
        for kw in node.keywords:
            if kw.arg == "requires_grad" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                self._autograd_use(node)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        for kind, names in _ATTRIBUTES.items():
            if node.attr in names:
                self.add(kind, node)
        path = self.path(node)
        if path and isinstance(node.ctx, ast.Load):
            if path == "sys.modules" and not getattr(node, "_membership", False):
                self.add("introspection", node)
            if self._autograd(path):
                self._autograd_use(node)
            if _prefixed(path, _NATIVE_MODULES):
                self.add("native", node)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        # `"google.colab" in sys.modules` only asks: not tampering.
        if all(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            for c in node.comparators:
                c._membership = True  # type: ignore[attr-defined]
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.add("builtins", node)
        if self.where != "<module>":
            self.mentions[self.where].add(node.id)
            if node.id in self.tainted:
                self.findings.append(Finding("autograd-use", f"{self._code(node)} uses {node.id}, which holds "
                                             f"{self.tainted[node.id]} (taken at import)", self.where))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            for kind, needles in _STRINGS.items():
                if any(n in node.value for n in needles):
                    self.add(kind, node)


@dataclass(frozen=True)
class SourceReading:
    findings: tuple[Finding, ...]
    mentions: dict        # top-level def -> names its body mentions


# CPython 3.11's parser is not safe to call from several threads at once ("AST
# constructor recursion depth mismatch"): batch workers are threads.
_PARSING = threading.Lock()


def parse(source: str) -> ast.Module | None:
    """``ast.parse``, one thread at a time; None for a file that does not parse."""
    with _PARSING:
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError):
            return None


@lru_cache(maxsize=64)
def read_source(source: str, label: str = "") -> SourceReading:
    tree = parse(source)
    if tree is None:
        return SourceReading((), {})
    reader = _Reader(source, label)
    reader.visit(tree)
    return SourceReading(tuple(dict.fromkeys(reader.findings)), reader.mentions)


def scan_source(source: str, label: str = "") -> list[Finding]:
    """Every finding in one file (``label`` prefixes the evidence, e.g. ``"helpers.py "``)."""
    return list(read_source(source, label).findings)


def _sources(submission) -> list[tuple[str, str]]:
    out = []
    nb = getattr(submission, "notebook", None)
    if nb is not None and nb.source:
        out.append((nb.name, nb.source))
    for rel, data in sorted(submission.files.items()):
        if rel.endswith(".py"):
            out.append((rel, data.decode("utf-8", errors="replace")))
    return out


def scan_submission(submission, assignment=None) -> list[dict]:
    """The flags of every Python file of a submission (ordinary autograd use is not one).
    A file the assignment provides, handed in unchanged, is the course's, not the student's."""
    provided = set()
    if assignment is not None:
        for name in assignment.provided:
            path = assignment.root / name
            if path.is_file():
                provided.add(path.read_bytes())
    flags = []
    for rel, source in _sources(submission):
        if source.encode("utf-8", errors="replace") in provided:
            continue
        label = "" if rel == getattr(submission, "main_file", None) else f"{rel} "
        flags += [f.flag() for f in scan_source(source, label) if f.kind != "autograd-use"]
    return flags


def _reached(reading: SourceReading, uses) -> list[str]:
    seen, todo, order = set(), list(uses), []
    while todo:
        name = todo.pop()
        if name in seen or name not in reading.mentions:
            continue
        seen.add(name)
        order.append(name)
        todo += sorted(reading.mentions[name])
    return order


def reached(submission, uses) -> set[str]:
    """The top-level functions and classes of the student module that the names in
    ``uses`` reach through the names their bodies mention (helpers, other graded ones)."""
    return set(_reached(read_source(submission.source), uses))


def autograd_reached(submission, uses) -> list[str]:
    """Evidence that autograd is used by the functions ``uses`` names, or by anything
    of the module they mention (helpers, aliases taken at import), transitively."""
    reading = read_source(submission.source)
    by_def: dict[str, list[str]] = {}
    for f in reading.findings:
        if f.kind in ("autograd-use", "autograd") and f.where != "<module>":
            by_def.setdefault(f.where, []).append(f.evidence)
    return [f"{e} (in {name})" for name in _reached(reading, uses) for e in by_def.get(name, [])]


def voiding(flags: list[dict], checked: set[str]) -> list[dict]:
    """The flags that void a check measuring in the child whose code is ``checked``
    (see :data:`VOIDS_AT_RUNTIME`, :data:`VOIDS_IN_CHECKED_CODE`)."""
    out = []
    for f in flags:
        if f.get("source") == "static":
            if f.get("kind") in VOIDS_IN_CHECKED_CODE and f.get("where") in checked:
                out.append(f)
        elif f.get("kind") in VOIDS_AT_RUNTIME:
            out.append(f)
    return out
