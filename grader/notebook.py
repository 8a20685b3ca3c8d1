"""Notebook submissions: a ``.ipynb`` turned into the student module the sandbox imports.

    nb = notebook_module(data, "alice.ipynb", module="two_layer_net")
    nb.source        # what is written as two_layer_net.py in the scratch folder
    nb.place(27)     # "cell 7, line 3": where line 27 of nb.source came from
    nb.problem       # why it cannot be graded (None when it can)

Reading uses nbformat only: a file that is not JSON, not nbformat v4, or has no
code gets a :attr:`NotebookModule.problem` in words. A notebook that breaks the v4
schema in small ways (a missing metadata key, as some editors write) is graded
anyway, with a note.

**Cell numbers.** "cell 7" is the 7th cell from the top of the notebook, markdown
and raw cells included: the cell a student finds by counting down the page.
Execution counts (``[12]:``) are not used: they change with every run and are
absent from a cleared notebook. Lines are counted from 1 within the cell.

**IPython syntax.** Line magics (``%matplotlib inline``), shell lines
(``!pip install x``), captures (``files = !ls``) and help (``obj?``) are not Python;
each such line becomes ``pass`` (keeping the block structure and the line count),
a backslash-continued one takes its continuation lines with it. Only lines that
make the cell fail to parse are touched, so a ``%`` or ``!`` inside a string or a
parenthesised expression is left alone. A cell magic whose body is Python
(``%%time``, ``%%capture``...) loses its first line; any other (``%%bash``,
``%%writefile``...) skips the whole cell, with a note.

**Modes.**

* ``definitions`` (the default): only the top-level statements that define
  things are kept, in notebook order, so a later definition replaces an earlier
  one as in Restart & Run All:

  - ``import`` and ``from ... import`` (``from __future__`` ones are moved first);
  - ``def``, ``async def`` and ``class``, with their decorators;
  - constants: ``NAME = value`` (also ``a, b = ...`` and annotated) where the value
    calls nothing except the pure builtins and queries in :data:`PURE_CALLS`, and
    reads only names that earlier kept statements (or builtins) define;
  - ``if`` and ``try`` whose test and every branch pass these same rules
    (``try: import x`` / ``except ImportError: ...``).

  Everything else (calls, loops, ``with``, prints, plots, training, ``assert``,
  ``del``, ``x += 1``, ``params['W1'] = ...``) is skipped and never runs. A cell
  that does not parse is skipped with a note naming what it seems to define.
  The filter decides what grading runs; containment is the sandbox's job: what is
  kept still executes there (an imported module's top level, a class body, a
  decorator), exactly as it would from a ``.py``.

* ``execute``: every code cell, in order, runs at import inside the sandbox, so
  the whole notebook must run top to bottom (its first error fails the import);
  the import timeout is then the per-notebook time limit. ``display`` is
  defined as a no-op; ``__name__`` is the module's name, not ``"__main__"``.
"""
from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field

__all__ = ["NotebookModule", "notebook_module", "place", "DEFINITIONS", "EXECUTE",
           "NOTEBOOK_TIMEOUT_S", "MAX_NOTEBOOK_BYTES", "PURE_CALLS"]

DEFINITIONS, EXECUTE = "definitions", "execute"
NOTEBOOK_TIMEOUT_S = 300.0          # per notebook, in execute mode
MAX_NOTEBOOK_BYTES = 20 << 20       # a notebook carries its outputs (plots): larger than a .py may be

# Calls a kept constant may make: they build values and read settings, nothing else.
PURE_CALLS = frozenset({
    "int", "float", "complex", "bool", "str", "bytes", "tuple", "list", "dict", "set", "frozenset",
    "range", "len", "abs", "min", "max", "round", "sorted", "reversed", "enumerate", "zip", "slice",
    "collections.namedtuple", "namedtuple", "typing.TypeVar", "TypeVar", "typing.NamedTuple", "NamedTuple",
    "functools.partial", "partial",
    "torch.device", "torch.finfo", "torch.iinfo", "torch.get_default_dtype", "torch.cuda.is_available",
    "np.dtype", "numpy.dtype", "np.finfo", "numpy.finfo", "np.iinfo", "numpy.iinfo",
})

# Cell magics whose body is Python: the magic line goes, the body stays.
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
_IPYTHON_LINE = re.compile(r"""^\s*(?:[%!?]           # %magic, !shell, ?help
                                    |[\w.,\s\[\]()*]+=\s*[%!]  # x = !ls, y = %who_ls
                                    |.*\?\??\s*$)       # obj?  obj??
                           """, re.VERBOSE)
_DEF_LINE = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)", re.MULTILINE)
_MODULE_NAMES = frozenset({"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__",
                           "__builtins__", "__annotations__"})
_PRELUDE = "import builtins as _bpg_builtins; _bpg_builtins.__dict__.setdefault('display', lambda *a, **k: None)"


@dataclass(frozen=True)
class NotebookModule:
    """The module made from one notebook, and where each of its lines came from."""

    name: str                                        # the notebook's path among the submission's files
    mode: str = DEFINITIONS
    source: str = ""                                 # what the sandbox imports as <module>.py
    line_map: tuple[tuple[int, int], ...] = ()       # line i + 1 of source -> (cell, line); (0, 0): the grader's
    defined_in: tuple[tuple[str, int], ...] = ()     # top-level def/class -> cell of its last definition
    problem: str | None = None
    notes: tuple[str, ...] = field(default=())

    def place(self, line: int) -> str:
        return place(line, self.line_map)

    def cell_of(self, name: str) -> int | None:
        return dict(self.defined_in).get(name)

    @property
    def action(self) -> str:
        """What importing the module does, in words (for load errors)."""
        return f"running {self.name}" if self.mode == EXECUTE else f"loading the definitions of {self.name}"

    def timeout_message(self, seconds: float) -> str:
        if self.mode == EXECUTE:
            return (f"running {self.name} top to bottom did not finish within {seconds:g} s (the per-notebook "
                    f"limit): an endless loop, or training too long for grading?")
        return (f"loading the definitions of {self.name} did not finish within {seconds:g} s: a decorator, "
                f"class body or constant that never ends?")


def place(line: int, line_map: tuple[tuple[int, int], ...]) -> str:
    """ "cell 7, line 3" for a line of a notebook's module; "line N" without a map."""
    if line_map and 1 <= line <= len(line_map) and line_map[line - 1][0] > 0:
        cell, in_cell = line_map[line - 1]
        return f"cell {cell}, line {in_cell}"
    return f"line {line}"


# -- reading ---------------------------------------------------------------------------------
def _read(data: bytes, name: str) -> tuple[list[dict] | None, str | None, list[str]]:
    """-> (cells, problem, notes), with nbformat. Cells are plain dicts with a str source."""
    import nbformat
    from nbformat.reader import NotJSONError

    notes: list[str] = []
    if not data.strip():
        return None, f"{name} is empty", notes
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"{name} is not UTF-8 text (byte {exc.start}): it is not a saved Jupyter notebook", notes
    try:
        nb = nbformat.reader.reads(text)
    except NotJSONError:
        return None, (f"{name} is not a Jupyter notebook: it is not valid JSON (damaged, or another file "
                      f"renamed to .ipynb?); open it in Jupyter, save it, and submit it again"), notes
    except nbformat.ValidationError as exc:
        return None, f"{name} is not a readable notebook: {_first_line(exc)}", notes
    except (nbformat.NBFormatError, AttributeError, TypeError, RecursionError, ValueError) as exc:
        return None, f"{name} is not a Jupyter notebook ({type(exc).__name__}: {_first_line(exc)})", notes
    major = nb.get("nbformat")
    if major != 4:
        said = f"nbformat v{major}" if major else "no nbformat version"
        return None, (f"{name} is {said}, not nbformat v4: open it in Jupyter (any version since 2015) and "
                      f"save it to convert it, then submit it again"), notes
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        notes.append(f"{name} does not fully follow the notebook format ({_first_line(exc)}); graded anyway")
    cells = nb.get("cells")
    if not isinstance(cells, list):
        return None, f"{name} is not a readable notebook: it has no list of cells", notes
    out = []
    for cell in cells:
        if not isinstance(cell, dict):
            out.append({"cell_type": "unknown", "source": ""})
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        out.append({"cell_type": cell.get("cell_type", "unknown"), "source": source if isinstance(source, str) else ""})
    return out, None, notes


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


# -- IPython syntax ----------------------------------------------------------------------------
@dataclass
class _Cell:
    number: int                 # among all cells, from 1
    text: str                   # Python after IPython lines were removed
    tree: ast.Module | None = None
    error: SyntaxError | None = None
    skipped: str | None = None  # why the whole cell is left out


def _python_of(number: int, source: str) -> _Cell:
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(maxsplit=1)[0] if lines[first].strip() != "%%" else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return _Cell(number, "", skipped=f"a %%{magic} cell")
        lines[first] = ""
    changed = set()
    while True:
        text = "\n".join(lines) + "\n"
        try:
            return _Cell(number, text, tree=ast.parse(text))
        except SyntaxError as exc:
            i = (exc.lineno or 0) - 1
            if not 0 <= i < len(lines) or i in changed or not _IPYTHON_LINE.match(lines[i]):
                return _Cell(number, text, error=exc)
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            cont = lines[i].rstrip().endswith("\\")
            lines[i] = indent + "pass"
            changed.add(i)
            while cont and i + 1 < len(lines):
                i += 1
                cont = lines[i].rstrip().endswith("\\")
                lines[i] = ""
                changed.add(i)
        except (ValueError, RecursionError, MemoryError) as exc:
            err = SyntaxError(str(exc))
            err.lineno = 1
            return _Cell(number, text, error=err)


# -- the definitions filter ------------------------------------------------------------------
def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


class _Filter:
    """Decides, statement by statement, what a definitions-only module keeps."""

    def __init__(self) -> None:
        self.bound: set[str] = set(dir(builtins)) | _MODULE_NAMES
        self.star = False      # a `from x import *` was kept: any name may be bound

    def calm(self, node: ast.AST | None) -> bool:
        """An expression that calls only PURE_CALLS and reads only bound names."""
        if node is None:
            return True
        local: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.comprehension):
                local |= {n.id for n in ast.walk(sub.target) if isinstance(n, ast.Name)}
            elif isinstance(sub, ast.Lambda):
                local |= {a.arg for a in ast.walk(sub.args) if isinstance(a, ast.arg)}
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
                return False
            if isinstance(sub, ast.Call) and _dotted(sub.func) not in PURE_CALLS:
                return False
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in local \
                    and sub.id not in self.bound and not self.star:
                return False
        return True

    @staticmethod
    def _target_names(target: ast.expr) -> list[str] | None:
        if isinstance(target, ast.Name):
            return [target.id]
        if isinstance(target, ast.Starred):
            return _Filter._target_names(target.value)
        if isinstance(target, (ast.Tuple, ast.List)):
            out = []
            for t in target.elts:
                names = _Filter._target_names(t)
                if names is None:
                    return None
                out += names
            return out
        return None   # params['W1'] = ..., obj.attr = ...: changes data, not a definition

    def keep(self, stmt: ast.stmt, nested: bool = False) -> bool:
        """Whether to keep ``stmt``; binds the names it defines when kept."""
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name == "*":
                    self.star = True
                else:
                    self.bound.add(alias.asname or alias.name.split(".")[0])
            return True
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.bound.add(stmt.name)
            return True
        if isinstance(stmt, ast.Assign):
            names = [self._target_names(t) for t in stmt.targets]
            if any(n is None for n in names) or not self.calm(stmt.value):
                return False
            self.bound.update(n for group in names for n in group)  # type: ignore[union-attr]
            return True
        if isinstance(stmt, ast.AnnAssign):
            names = self._target_names(stmt.target)
            if names is None or not stmt.simple or not self.calm(stmt.annotation) or not self.calm(stmt.value):
                return False
            if stmt.value is not None:
                self.bound.update(names)
            return True
        if isinstance(stmt, ast.Pass):
            return nested
        if isinstance(stmt, ast.If):
            return self.calm(stmt.test) and self._all(stmt.body + stmt.orelse)
        if isinstance(stmt, ast.Try):
            handlers_ok = all(self.calm(h.type) and self._all(h.body) for h in stmt.handlers)
            for h in stmt.handlers:
                if h.name:
                    self.bound.add(h.name)
            return handlers_ok and self._all(stmt.body + stmt.orelse + stmt.finalbody)
        return False

    def _all(self, body: list[ast.stmt]) -> bool:
        saved_bound, saved_star = set(self.bound), self.star
        if all(self.keep(s, nested=True) for s in body):
            return True
        self.bound, self.star = saved_bound, saved_star
        return False


def _segment(lines: list[str], stmt: ast.stmt) -> tuple[int, list[str]]:
    """(first line number, text lines) of a top-level statement; a simple statement
    sharing its line with others (``import os; os.system(...)``) is cut out alone."""
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    last = stmt.end_lineno or stmt.lineno
    seg = lines[first - 1:last]
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.Try)):
        return first, seg
    # Offsets are in UTF-8 bytes.
    end = seg[-1].encode()[: stmt.end_col_offset].decode(errors="ignore")
    seg = seg[:-1] + [end]
    seg[0] = seg[0].encode()[stmt.col_offset:].decode(errors="ignore")
    return first, seg


def _defined_names(tree: ast.Module) -> list[str]:
    return [s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _is_future(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"


def _imports_module(stmt: ast.stmt, module: str) -> bool:
    if isinstance(stmt, ast.Import):
        return any(a.name.split(".")[0] == module for a in stmt.names)
    return isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[0] == module and not stmt.level


def _cells_list(numbers: list[int]) -> str:
    numbers = sorted(set(numbers))
    text = ", ".join(str(n) for n in numbers[:8]) + (", ..." if len(numbers) > 8 else "")
    return ("cell " if len(numbers) == 1 else "cells ") + text


# -- building the module -----------------------------------------------------------------------
def notebook_module(data: bytes, name: str, module: str, mode: str = DEFINITIONS) -> NotebookModule:
    """The module ``module``.py made from the notebook bytes ``data`` (named ``name``)."""
    if mode not in (DEFINITIONS, EXECUTE):
        raise ValueError(f"mode must be {DEFINITIONS!r} or {EXECUTE!r}, not {mode!r}")
    raw, problem, notes = _read(data, name)
    if problem or raw is None:
        return NotebookModule(name, mode, problem=problem, notes=tuple(notes))
    code = [(i, c["source"]) for i, c in enumerate(raw, 1) if c["cell_type"] == "code"]
    if not code:
        return NotebookModule(name, mode, problem=f"{name} has no code cells: the functions of {module}.py "
                              f"must be defined in code cells", notes=tuple(notes))
    cells = [_python_of(i, src) for i, src in code if src.strip()]
    for c in cells:
        if c.skipped:
            notes.append(f"skipped cell {c.number} of {name}: {c.skipped} is not Python")
    cells = [c for c in cells if not c.skipped]
    if not cells or all(c.tree is not None and not c.tree.body for c in cells):
        return NotebookModule(name, mode, problem=f"{name} has no code: its code cells are empty",
                              notes=tuple(notes))
    build = _execute if mode == EXECUTE else _definitions
    out_lines, line_map, problem = build(cells, name, module, notes)
    defined: dict[str, list[int]] = {}
    for c in cells:
        for n in _defined_names(c.tree) if c.tree else ():
            defined.setdefault(n, []).append(c.number)
    for n, where in defined.items():
        if len(where) > 1:
            notes.append(f"{n} is defined in {_cells_list(where)} of {name}: graded the last one "
                         f"(cell {where[-1]}), as Restart & Run All would")
    source = "\n".join(out_lines) + "\n"
    if problem is None:
        problem = _compile_problem(source, tuple(line_map), name)
    return NotebookModule(name, mode, source, tuple(line_map), tuple((n, w[-1]) for n, w in defined.items()),
                          problem, tuple(notes))


def _syntax_problem(name: str, cell: int, exc: SyntaxError) -> str:
    code = f": {exc.text.strip()}" if exc.text and exc.text.strip() else ""
    return f"{name} has a syntax error in cell {cell}, line {exc.lineno or '?'} ({exc.msg}){code}"


def _compile_problem(source: str, line_map: tuple, name: str) -> str | None:
    """What compiling the whole module finds that parsing cells one by one does not
    (``return`` outside a function, a misplaced ``from __future__``...)."""
    try:
        compile(source, f"{name}.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        code = f": {exc.text.strip()}" if exc.text and exc.text.strip() else ""
        return f"{name} has a syntax error in {place(exc.lineno or 0, line_map)} ({exc.msg}){code}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{name} cannot be compiled: {exc}"
    return None


def _future_first(cells: list[_Cell], out: list[str], line_map: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Emit every ``from __future__`` import first; -> the (cell, line) spans moved."""
    moved = set()
    for c in cells:
        lines = c.text.splitlines()
        for stmt in c.tree.body if c.tree else ():
            if _is_future(stmt):
                first, seg = _segment(lines, stmt)
                for k, text in enumerate(seg):
                    out.append(text)
                    line_map.append((c.number, first + k))
                    moved.add((c.number, first + k))
    return moved


def _execute(cells: list[_Cell], name: str, module: str, notes: list[str]):
    bad = next((c for c in cells if c.error is not None), None)
    if bad is not None:
        return [], [], _syntax_problem(name, bad.number, bad.error)  # type: ignore[arg-type]
    out: list[str] = []
    line_map: list[tuple[int, int]] = []
    moved = _future_first(cells, out, line_map)
    out.append(_PRELUDE)
    line_map.append((0, 0))
    for c in cells:
        for k, text in enumerate(c.text.splitlines(), 1):
            out.append("" if (c.number, k) in moved else text)
            line_map.append((c.number, k))
    notes.append(f"ran {name} top to bottom ({len(cells)} code cells) before grading")
    return out, line_map, None


def _definitions(cells: list[_Cell], name: str, module: str, notes: list[str]):
    out: list[str] = []
    line_map: list[tuple[int, int]] = []
    ok = [c for c in cells if c.error is None]
    _future_first(ok, out, line_map)
    keep = _Filter()
    skipped_cells: list[int] = []
    skipped_names: list[str] = []
    skipped = 0
    self_import = False
    for c in cells:
        if c.error is not None:
            seems = _DEF_LINE.findall(c.text)
            what = f" (it seems to define {', '.join(dict.fromkeys(seems))})" if seems else ""
            notes.append(f"skipped cell {c.number} of {name}{what}: syntax error at line {c.error.lineno} "
                         f"({c.error.msg})")
            continue
        lines = c.text.splitlines()
        for stmt in c.tree.body:  # type: ignore[union-attr]
            if _is_future(stmt):
                continue
            if not keep.keep(stmt):
                quiet = isinstance(stmt, ast.Pass) or (      # a removed magic line, a docstring
                    isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
                if not quiet:
                    skipped += 1
                    skipped_cells.append(c.number)
                    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                        skipped_names += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
                continue
            self_import = self_import or _imports_module(stmt, module)
            first, seg = _segment(lines, stmt)
            for k, text in enumerate(seg):
                out.append(text)
                line_map.append((c.number, first + k))
    if skipped:
        names = list(dict.fromkeys(skipped_names))
        assigned = f"; names they would have set, now undefined: {', '.join(names[:6])}" if names else ""
        notes.append(f"graded the definitions in {name} (imports, functions, classes, constants) and skipped "
                     f"{skipped} top-level statement{'s' if skipped != 1 else ''} that run code, in "
                     f"{_cells_list(skipped_cells)}{assigned}")
    if self_import:
        notes.append(f"{name} imports {module} instead of defining its functions: submit {module}.py, "
                     f"or define the functions in the notebook's cells")
    return out, line_map, None
