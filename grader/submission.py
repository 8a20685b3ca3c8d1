"""A student's submission, read into memory and checked before anything runs.

Accepted: a ``.py`` file, a folder holding the student module, or a ``.zip`` of
either. The files are read (never executed) here; problems a student can cause
(an empty file, a binary, a syntax error, a zip that tries to escape its folder)
become :attr:`Submission.problem`, which grades as zero with that reason. Only a
path that does not exist is the caller's error (:class:`SubmissionNotFound`).
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.notebook import DEFINITIONS, EXECUTE, MAX_NOTEBOOK_BYTES, NotebookModule, notebook_module

__all__ = ["Submission", "SubmissionNotFound", "load_submission", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 2 << 20          # one source file
MAX_TOTAL_BYTES = 20 << 20        # a whole submission, unpacked
MAX_FILES = 200
MAX_ZIP_RATIO = 200               # uncompressed / compressed, per member: a zip bomb beyond this


class SubmissionNotFound(FileNotFoundError):
    pass


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path
    module_name: str
    files: dict[str, bytes] = field(default_factory=dict)   # relative posix path -> bytes
    main_file: str | None = None                           # key in files of the student module
    problem: str | None = None                             # why it cannot be graded, for the report
    notes: tuple[str, ...] = ()
    notebook: NotebookModule | None = None                 # graded from a .ipynb: the module made from it

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        if self.problem:
            h.update(b"problem\0" + self.problem.encode())
        return h.hexdigest()

    @property
    def display_name(self) -> str:
        """The submitted file's name, printable even when it is not valid UTF-8."""
        return os.fsencode(self.path.name).decode("utf-8", errors="replace")

    @property
    def source(self) -> str:
        return self.files[self.main_file].decode("utf-8") if self.main_file else ""

    def write_to(self, folder: Path) -> Path:
        """Place the files in ``folder``; returns the student module's path there."""
        for rel, data in self.files.items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return folder / self.main_file  # type: ignore[operator]


def _check_source(name: str, data: bytes) -> str | None:
    if not data.strip():
        return f"{name} is empty"
    if b"\0" in data[:8192]:
        return f"{name} is not a Python source file (it looks binary)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{name} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
    try:
        compile(text, name, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        code = f": {exc.text.strip()}" if exc.text and exc.text.strip() else ""
        return f"{name} has a syntax error at {where} ({exc.msg}){code}{_python_note(exc)}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{name} cannot be compiled: {exc}"
    return None


def _python_note(exc: SyntaxError) -> str:
    """Which Python the grader parses with: code that runs on a newer Python (3.12
    f-strings that reuse their quotes inside {}) fails here, and the student should know why."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if sys.version_info < (3, 12) and re.search(r"""\bf["']""", exc.text or "", re.IGNORECASE):
        return (f". The grader runs Python {version}: before 3.12 an f-string cannot reuse its own quote "
                f"character inside {{}} (use the other kind of quote there)")
    return f" (the grader runs Python {version})"


def _from_files(student: str, path: Path, module: str, files: dict[str, bytes], notes: list[str],
                execute_notebook: bool = False) -> Submission:
    py = sorted(n for n in files if n.endswith(".py"))
    want = f"{module}.py"
    main = next((n for n in py if PurePosixPath(n).name == want), None)
    notebook = _notebook_to_grade(files, module) if main is None else None
    if notebook is not None:  # <module>.py first, then a notebook, then another lone .py
        return _from_notebook(student, path, module, files, notebook, notes, execute_notebook)
    if main is None:
        candidates = [n for n in py if not PurePosixPath(n).name.startswith(("test_", "."))
                      and PurePosixPath(n).name not in ("helpers.py", "conftest.py", "setup.py")]
        if len(candidates) == 1:
            main = candidates[0]
            notes.append(f"graded {main} as {want}")
    if main is None:
        nb = [n for n in files if n.endswith(".ipynb")]
        what = f"no {want}" + (f" (found {', '.join(py[:5])})" if py else " and no other .py file")
        if nb:
            what += f"; several notebooks found ({', '.join(nb[:3])}): name the one to grade {module}.ipynb"
        return Submission(student, path, module, files, None, what, tuple(notes))
    # The student module goes to the top of the scratch folder under the name the
    # assignment imports; files beside it keep their places relative to it.
    base = PurePosixPath(main).parent
    placed = {}
    for name, data in files.items():
        p = PurePosixPath(name)
        if base != PurePosixPath(".") and base not in p.parents:
            continue
        rel = p.relative_to(base) if base != PurePosixPath(".") else p
        placed[str(rel)] = data
    main_rel = str(PurePosixPath(main).relative_to(base)) if base != PurePosixPath(".") else main
    placed[want] = placed.pop(main_rel)
    problem = _check_source(f"{module}.py" if main_rel == want else main_rel, placed[want])
    return Submission(student, path, module, placed, want, problem, tuple(notes))


def _read_folder(folder: Path) -> tuple[dict[str, bytes], list[str]]:
    files, notes, total = {}, [], 0
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if any(part.startswith(".") or part == "__pycache__" for part in PurePosixPath(rel).parts):
            continue
        if p.is_symlink():
            notes.append(f"ignored symbolic link {rel}")
            continue
        if not p.is_file():
            continue
        size = p.stat().st_size
        if size > _max_bytes(rel):
            notes.append(f"ignored {rel}: {size} bytes is over the {_max_bytes(rel)} byte limit")
            continue
        total += size
        if total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
            notes.append("stopped reading: the folder is over the size or file-count limit")
            break
        files[rel] = p.read_bytes()
    return files, notes


def read_zip(data: bytes) -> tuple[dict[str, bytes], list[str], str | None]:
    """Members of a zip, refusing escapes, links, bombs and odd names. -> (files, notes, problem)"""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return {}, [], "the .zip file is damaged or not a zip"
    files, notes, total = {}, [], 0
    with zf:
        for info in zf.infolist():
            name = info.filename
            if info.flag_bits & 0x800 == 0 and any(ord(ch) > 127 for ch in name):
                return {}, notes, f"the zip holds a file name that is not UTF-8 ({name!r}): rename it"
            p = PurePosixPath(name)
            if p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")) or ":" in p.parts[0]:
                return {}, notes, f"the zip holds a path that leaves its folder ({name!r}): refused"
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                return {}, notes, f"the zip holds a symbolic link ({name!r}): refused"
            if info.is_dir() or any(part.startswith(".") or part in ("__MACOSX", "__pycache__") for part in p.parts):
                continue
            if info.file_size > _max_bytes(name):
                notes.append(f"ignored {name}: {info.file_size} bytes is over the {_max_bytes(name)} byte limit")
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO and info.file_size > 1 << 20:
                return {}, notes, f"the zip member {name!r} expands {info.file_size // info.compress_size}x: refused as a zip bomb"
            total += info.file_size
            if total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
                return {}, notes, "the zip is over the size or file-count limit once unpacked: refused"
            with zf.open(info) as fh:
                content = fh.read(_max_bytes(name) + 1)
            if len(content) > _max_bytes(name):
                return {}, notes, f"the zip member {name!r} is larger than it claims: refused"
            files[name] = content
    # A zip of a folder: strip the single top-level folder.
    tops = {PurePosixPath(n).parts[0] for n in files}
    if len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in files):
        top = tops.pop()
        files = {str(PurePosixPath(n).relative_to(top)): d for n, d in files.items()}
    return files, notes, None


def load_submission(path: str | Path, module: str, student: str | None = None, *,
                    execute_notebook: bool = False) -> Submission:
    """``execute_notebook``: a notebook runs top to bottom at import (else only its definitions)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise SubmissionNotFound(f"{path}: no such file or folder")
    # A folder's own name, also for "." or ".." (whose Path.name is "" or "..").
    student = student or (path.stem if path.is_file() else Path(os.path.abspath(path)).name) or "student"
    if path.is_symlink():
        return Submission(student, path, module, problem=f"{path.name} is a symbolic link: submit the file itself")
    if path.is_dir():
        files, notes = _read_folder(path)
        return _from_files(student, path, module, files, notes, execute_notebook)
    size = path.stat().st_size
    suffix = path.suffix.lower()
    if suffix == ".zip":
        if size > MAX_TOTAL_BYTES:
            return Submission(student, path, module, problem=f"the zip is {size} bytes, over the limit")
        files, notes, problem = read_zip(path.read_bytes())
        if problem:
            return Submission(student, path, module, problem=problem, notes=tuple(notes))
        return _from_files(student, path, module, files, notes, execute_notebook)
    if suffix == ".py":
        if size > MAX_FILE_BYTES:
            return Submission(student, path, module, problem=f"{path.name} is {size} bytes, over the {MAX_FILE_BYTES} byte limit")
        return _from_files(student, path, module, {f"{module}.py": path.read_bytes()},
                           [] if path.name == f"{module}.py" else [f"graded {path.name} as {module}.py"])
    if suffix == ".ipynb":
        if size > MAX_NOTEBOOK_BYTES:
            return Submission(student, path, module, problem=f"{path.name} is {size} bytes, over the {MAX_NOTEBOOK_BYTES} byte limit")
        return _from_notebook(student, path, module, {path.name: path.read_bytes()}, path.name, [], execute_notebook)
    return Submission(student, path, module,
                      problem=f"{path.name} is not a Python file (.py), a notebook (.ipynb), a folder or a .zip; "
                              f"submit {module}.py")


def _max_bytes(name: str) -> int:
    return MAX_NOTEBOOK_BYTES if name.lower().endswith(".ipynb") else MAX_FILE_BYTES


def _notebook_to_grade(files: dict[str, bytes], module: str) -> str | None:
    """``<module>.ipynb`` (the shallowest), else the only notebook; None if none or several."""
    notebooks = sorted((n for n in files if n.lower().endswith(".ipynb")), key=lambda n: (n.count("/"), n))
    named = [n for n in notebooks if PurePosixPath(n).name == f"{module}.ipynb"]
    if named:
        return named[0]
    return notebooks[0] if len(notebooks) == 1 else None


def _from_notebook(student: str, path: Path, module: str, files: dict[str, bytes], notebook: str,
                   notes: list[str], execute: bool) -> Submission:
    """The module made from ``notebook`` (see grader.notebook), placed as ``<module>.py``
    with the files beside the notebook; the notebook itself stays, for the feedback copy."""
    base = PurePosixPath(notebook).parent
    placed = {}
    for name, data in files.items():
        p = PurePosixPath(name)
        if base != PurePosixPath(".") and base not in p.parents:
            continue
        placed[str(p.relative_to(base)) if base != PurePosixPath(".") else name] = data
    rel = PurePosixPath(notebook).name if base != PurePosixPath(".") else notebook
    nb = notebook_module(placed[rel], rel, module, EXECUTE if execute else DEFINITIONS)
    want = f"{module}.py"
    if nb.problem is None:
        placed[want] = nb.source.encode("utf-8")
    return Submission(student, path, module, placed, None if nb.problem else want, nb.problem,
                      tuple(notes) + nb.notes, notebook=nb)


def load_named_files(paths: list[Path], names: list[str], module: str, student: str, *,
                     execute_notebook: bool = False) -> Submission:
    """Several files that together make one submission (an LMS export that split a
    student's upload into one entry per file, with its own prefix on each name)."""
    if len(paths) == 1:
        return load_submission(paths[0], module, student, execute_notebook=execute_notebook)
    folder = paths[0].parent
    files: dict[str, bytes] = {}
    notes = [f"{len(paths)} files from the export combined"]
    for path, name in zip(paths, names):
        if path.is_symlink() or not path.is_file():
            notes.append(f"ignored {path.name}: not a plain file")
            continue
        if path.stat().st_size > _max_bytes(name):
            notes.append(f"ignored {path.name}: over the {_max_bytes(name)} byte limit")
            continue
        files[name] = path.read_bytes()
    return _from_files(student, folder, module, files, notes, execute_notebook)
