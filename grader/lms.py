"""Who is who in a class folder: student ids from the file names LMS exports use.

* Canvas "Download submissions": ``smithjohn_12345_678901_two_layer_net.py``, with
  ``_late`` after the name for late work and ``-1``, ``-2`` suffixes on resubmitted
  files; a student who uploaded several files has several entries with one prefix.
* Moodle "Download all submissions": a folder (or file prefix)
  ``John Smith_12345_assignsubmission_file_``.
* Gradescope "Export submissions": folders ``submission_123456`` plus
  ``submission_metadata.yml`` naming each folder's submitters.
* Anything else: the entry's name (without extension) is the student id.

An entry whose name is not valid UTF-8 is kept (graded as zero with the reason)
rather than silently dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ClassEntry", "class_entries", "safe_id"]

_CANVAS = re.compile(r"^(?P<name>[a-z][a-z0-9]*?)(?:_late)?_(?P<uid>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$")
_RESUBMIT = re.compile(r"-\d+(?=\.[^.]+$)")


@dataclass
class ClassEntry:
    student: str
    paths: list[Path] = field(default_factory=list)     # one path, or several files to put in one folder
    names: list[str] = field(default_factory=list)      # the file names to give them (LMS prefixes stripped)
    problem: str | None = None
    source: str = ""                                    # which naming was recognised


def safe_id(text: str) -> str:
    """A student id usable as a folder name."""
    out = re.sub(r"[^\w.@-]+", "_", text.strip(), flags=re.UNICODE).strip("._")
    return out[:100] or "student"


def _gradescope_names(folder: Path) -> dict[str, str]:
    meta = folder / "submission_metadata.yml"
    if not meta.is_file():
        return {}
    names: dict[str, str] = {}
    current = None
    for line in meta.read_text(errors="replace").splitlines():
        m = re.match(r"^(submission_\d+):\s*$", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^\s*(?:-\s*)?:(sid|email|name):\s*['\"]?(.*?)['\"]?\s*$", line)
        if current and m and current not in names and m.group(2):
            if m.group(1) in ("sid", "email"):
                names[current] = m.group(2)
            elif m.group(1) == "name":
                names.setdefault(current + "#name", m.group(2))
    for key in [k for k in names if k.endswith("#name")]:
        names.setdefault(key[:-5], names.pop(key))
    return names


def class_entries(folder: Path) -> list[ClassEntry]:
    """One entry per student, in a stable order."""
    gradescope = _gradescope_names(folder)
    groups: dict[str, ClassEntry] = {}
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        name = p.name
        if name.startswith((".", "_")) or name in ("__MACOSX", "submission_metadata.yml"):
            continue
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            shown = safe_id(name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
            groups[shown] = ClassEntry(shown, [p], [name], problem="the file name is not valid UTF-8: rename it "
                                       "and resubmit", source="invalid name")
            continue
        m = _CANVAS.match(name)
        if m and p.is_file():
            student, file_name, source = m.group("name"), _RESUBMIT.sub("", m.group("file")), "canvas"
        elif (m := _MOODLE.match(name)):
            student, file_name, source = safe_id(m.group("name")), m.group("file"), "moodle"
        elif name in gradescope:
            student, file_name, source = safe_id(gradescope[name]), name, "gradescope"
        else:
            student, file_name, source = safe_id(p.stem if p.is_file() else name), name, "plain"
        entry = groups.setdefault(student, ClassEntry(student, source=source))
        entry.paths.append(p)
        entry.names.append(file_name)
    return list(groups.values())
