"""Who is who in a class folder: students from the file names LMS exports use.

A student is keyed by the id the LMS gives them, never by their name alone: two
Canvas users both called ``smithjohn`` are two students, two Moodle "John Smith"
submissions are two students. The name is kept for display.

* Canvas "Download submissions": ``smithjohn_12345_678901_two_layer_net.py``
  (sortable name, Canvas user id, attachment id, file name), with ``_late`` (any
  case) after the name for late work and ``-1``, ``-2`` suffixes on resubmitted
  files; a student who uploaded several files has several entries with one user id.
  Row id: ``smithjohn_12345``.
* Moodle "Download all submissions": a folder (or file prefix)
  ``John Smith_12345_assignsubmission_file_`` (12345: the participant id).
  Row id: ``John_Smith_12345``.
* Gradescope "Export submissions": folders ``submission_123456`` plus
  ``submission_metadata.yml`` naming each folder's submitters (several for a
  group submission: every member is credited) and its ``:created_at:`` time.
  Row id: the submitter's SID, else their email.
* Anything else: the entry's name (without extension) is the student id.

Two entries that would get the same row id without being one LMS user's files are
a collision: both are kept, the second under ``<id>__2``, with a note saying so.
An entry whose name is not valid UTF-8 is kept (graded as zero with the reason)
rather than silently dropped.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["ClassEntry", "Member", "class_entries", "collisions", "namesakes", "safe_id", "GRADESCOPE_METADATA"]

GRADESCOPE_METADATA = "submission_metadata.yml"
# The sortable name holds no underscore (Canvas removes them) but may hold hyphens,
# apostrophes and letters outside ASCII.
_CANVAS = re.compile(r"^(?P<name>[^_\s]+?)(?P<late>_late)?_(?P<uid>\d+)_(?P<sub>\d+)_(?P<file>.+)$", re.IGNORECASE)
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$")
_RESUBMIT = re.compile(r"-\d+(?=\.[^.]+$)")


@dataclass(frozen=True)
class Member:
    """A person credited with a submission (a Gradescope group has several)."""

    student: str                 # the row / folder id
    name: str = ""               # for display
    lms_id: str | None = None    # the LMS's own id of this person
    email: str | None = None


@dataclass
class ClassEntry:
    student: str                                        # row / folder id (unique in the class)
    paths: list[Path] = field(default_factory=list)     # one path, or several files to put in one folder
    names: list[str] = field(default_factory=list)      # the file names to give them (LMS prefixes stripped)
    problem: str | None = None
    source: str = ""                                    # which naming was recognised: canvas, moodle, gradescope, plain
    name: str = ""                                      # display name
    lms_id: str | None = None                           # Canvas user id, Moodle participant id, Gradescope SID
    email: str | None = None
    submission_id: str | None = None                    # Gradescope's submission number
    late: bool | None = None                            # None: the export does not say
    submitted_at: str | None = None                     # ISO 8601; from the export, else the files' mtime
    time_source: str = ""                               # "export" or "file mtime"
    group: tuple[Member, ...] = ()                      # the other members credited (Gradescope groups)
    notes: list[str] = field(default_factory=list)

    def lms_info(self) -> dict:
        """What the gradebook and the LMS import files need, kept in the report."""
        return {"source": self.source, "name": self.name, "lms_id": self.lms_id, "email": self.email,
                "submission_id": self.submission_id, "late": self.late, "submitted_at": self.submitted_at,
                "time_source": self.time_source, "group": [m.student for m in self.group]}

    def member(self, m: Member) -> "ClassEntry":
        """This submission as credited to another group member."""
        others = tuple(x for x in (self._self_member(), *self.group) if x.student != m.student)
        return replace(self, student=m.student, name=m.name, lms_id=m.lms_id, email=m.email, group=others,
                       notes=list(self.notes))

    def _self_member(self) -> Member:
        return Member(self.student, self.name, self.lms_id, self.email)


def safe_id(text: str) -> str:
    """A student id usable as a folder name."""
    out = re.sub(r"[^\w.@-]+", "_", text.strip(), flags=re.UNICODE).strip("._")
    return out[:100] or "student"


class _LenientLoader:
    """PyYAML's safe loader that reads Ruby-tagged values (Gradescope's export is
    written by Ruby) as plain data instead of refusing the whole file."""

    @staticmethod
    def load(text: str):
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        def plain(loader, suffix, node):
            if isinstance(node, yaml.MappingNode):
                return loader.construct_mapping(node, deep=True)
            if isinstance(node, yaml.SequenceNode):
                return loader.construct_sequence(node, deep=True)
            return loader.construct_scalar(node)

        Loader.add_multi_constructor("!", plain)
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def _key(d: dict, name: str):
    """Gradescope writes Ruby symbols: ``:sid:`` is the key ``:sid``."""
    return d.get(f":{name}", d.get(name)) if isinstance(d, dict) else None


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    text = str(value).strip()
    # "2024-03-01 12:34:56.123456789 -0800": Ruby's format; keep it readable as ISO 8601.
    m = re.match(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.\d+)?\s*([+-]\d\d):?(\d\d)$", text)
    return f"{m.group(1)}T{m.group(2)}{m.group(3)}:{m.group(4)}" if m else text or None


def _gradescope(folder: Path) -> tuple[dict[str, dict], str | None]:
    """folder name -> {"members": [Member...], "created_at": ..., "late": ...}; and a problem."""
    meta = folder / GRADESCOPE_METADATA
    if not meta.is_file():
        return {}, None
    try:
        data = _LenientLoader.load(meta.read_text(encoding="utf-8", errors="replace"))
    except Exception as exc:  # yaml.YAMLError and friends: the whole export is unreadable
        return {}, f"{GRADESCOPE_METADATA} is not valid YAML ({type(exc).__name__}: {exc})"
    out: dict[str, dict] = {}
    for sub, info in (data or {}).items() if isinstance(data, dict) else ():
        members = []
        for person in _key(info, "submitters") or []:
            sid, email, name = (_key(person, k) for k in ("sid", "email", "name"))
            ident = str(sid or email or name or "").strip()
            if ident:
                members.append(Member(safe_id(ident), str(name or ""), str(sid) if sid else None,
                                      str(email) if email else None))
        late = _key(info, "late")
        out[str(sub)] = {"members": members, "created_at": _iso(_key(info, "created_at")),
                         "late": bool(late) if late is not None else None}
    return out, None


def _mtime(paths: list[Path]) -> str | None:
    times = []
    for p in paths:
        try:
            files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
            times += [f.stat().st_mtime for f in files]
        except OSError:
            continue
    if not times:
        return None
    return _dt.datetime.fromtimestamp(max(times), _dt.timezone.utc).isoformat(timespec="seconds")


def class_entries(folder: Path) -> list[ClassEntry]:
    """One entry per student, in a stable order."""
    gradescope, gs_problem = _gradescope(folder)
    groups: dict[tuple, ClassEntry] = {}   # (lms, LMS id) or ("plain", row id) -> entry
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        name = p.name
        if name.startswith((".", "_")) or name in ("__MACOSX", GRADESCOPE_METADATA):
            continue
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            shown = safe_id(name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
            groups[("invalid", name)] = ClassEntry(shown, [p], [name], source="invalid name", name=shown,
                                                   problem="the file name is not valid UTF-8: rename it "
                                                           "and resubmit")
            continue
        m = _CANVAS.match(name)
        if m and p.is_file():
            uid = m.group("uid")
            key = ("canvas", uid)
            entry = groups.setdefault(key, ClassEntry(safe_id(f"{m.group('name')}_{uid}"), source="canvas",
                                                      name=m.group("name"), lms_id=uid, late=False))
            entry.late = entry.late or bool(m.group("late"))
            file_name = _RESUBMIT.sub("", m.group("file"))
        elif (m := _MOODLE.match(name)):
            uid = m.group("uid")
            key = ("moodle", uid)
            entry = groups.setdefault(key, ClassEntry(safe_id(f"{m.group('name')}_{uid}"), source="moodle",
                                                      name=m.group("name").strip(), lms_id=uid))
            file_name = m.group("file")
        elif name in gradescope and gradescope[name]["members"]:
            info = gradescope[name]
            first, *rest = info["members"]
            key = ("gradescope", name)
            entry = groups.setdefault(key, ClassEntry(first.student, source="gradescope", name=first.name,
                                                      lms_id=first.lms_id, email=first.email,
                                                      submission_id=name.removeprefix("submission_"),
                                                      late=info["late"], submitted_at=info["created_at"],
                                                      time_source="export" if info["created_at"] else "",
                                                      group=tuple(rest)))
            file_name = name
        else:
            student = safe_id(p.stem if p.is_file() else name)
            key = ("plain", name)
            entry = groups.setdefault(key, ClassEntry(student, source="plain", name=student))
            file_name = name
            if gs_problem and name.startswith("submission_"):
                entry.problem = f"the export's {gs_problem}: its submitters are unknown"
        entry.paths.append(p)
        entry.names.append(file_name)
    entries = list(groups.values())
    for e in entries:
        if e.submitted_at is None:
            e.submitted_at, e.time_source = _mtime(e.paths), "file mtime"
    # Every person a row of their own: group members too, credited with the same work.
    people = [x for e in entries for x in (e, *(e.member(m) for m in e.group))]
    return _separate_collisions(people)


def _separate_collisions(entries: list[ClassEntry]) -> list[ClassEntry]:
    """Give every entry its own row id; two that want one id are reported, never merged."""
    by_id: dict[str, list[ClassEntry]] = {}
    for e in entries:
        by_id.setdefault(e.student, []).append(e)
    taken = set(by_id)
    for student, same in by_id.items():
        if len(same) < 2:
            continue
        shown = ", ".join(f"{e.paths[0].name} ({e.source})" for e in same)
        for i, e in enumerate(same[1:], 2):
            n = i
            while f"{student}__{n}" in taken:
                n += 1
            e.student = f"{student}__{n}"
            taken.add(e.student)
        for e in same:
            e.notes.append(f"{len(same)} entries of the export map to student id {student} ({shown}): graded "
                           f"separately as {', '.join(x.student for x in same)}, never merged; check which is whose")
    return sorted(entries, key=lambda e: e.student)


def collisions(entries: list[ClassEntry]) -> list[str]:
    """The notes saying which entries wanted one id (one line per clash)."""
    return sorted({n for e in entries for n in e.notes if "map to student id" in n})


def namesakes(entries: list[ClassEntry]) -> list[str]:
    """Different LMS users with one display name: kept apart, said once so a TA is not surprised."""
    by_name: dict[tuple[str, str], list[str]] = {}
    for e in entries:
        if e.lms_id:
            by_name.setdefault((e.source, e.name), []).append(e.student)
    return [f"{len(ids)} {source} users named {name!r} are different students: {', '.join(sorted(ids))}"
            for (source, name), ids in sorted(by_name.items()) if len(ids) > 1]
