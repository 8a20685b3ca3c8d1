"""The walkthrough notebook of a student bundle: ``<module>.ipynb`` beside the stub.

Built for any assignment from its ``assignment.toml``: a title, a setup cell
(imports the student's module, makes ``check = Checks()``), then one section per
``part`` of the public checks, in the order the parts first appear, each listing its
checks and running them one cell each (``check("forward_pass_toy")``, see
:mod:`grader.notebook_checks`), and a summary cell at the end.

An assignment may add its own cells in ``assignments/<name>/walkthrough.py``, a
Python file in the "percent" format of Jupytext and VS Code: each cell starts with
a ``# %%`` line; ``# %% [markdown]`` cells have their text commented out with
``# ``. After the marker, one word says where the cell goes:

    intro            after the setup cell, before the first part
    before=<part>    under the part's heading, above its checks
    after=<part>     after the part's checks
    end              after the last part, before the summary

A cell with no placement goes where the cell above it went (the first one: intro).
Lines above the first ``# %%`` (a docstring) are not copied. Code cells run in the
student's kernel: wrap calls to student code in ``with attempt("..."):`` so the
stub or a bug prints a message instead of stopping the notebook.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from grader.assignment import Assignment

__all__ = ["walkthrough_notebook", "walkthrough_json", "read_cells", "Piece"]

CELLS_FILE = "walkthrough.py"
_HEADER = re.compile(r"^# %%(?P<rest>.*)$")


@dataclass(frozen=True)
class Piece:
    """One cell from an assignment's walkthrough file and where it goes."""

    kind: str        # "markdown" or "code"
    where: str       # "intro", "before=<part>", "after=<part>", "end"
    text: str


def read_cells(text: str, origin: str = CELLS_FILE) -> list[Piece]:
    """The cells of a percent-format file."""
    pieces: list[Piece] = []
    kind, where, body = None, "intro", []

    def flush() -> None:
        if kind is None:
            return
        lines = body
        if kind == "markdown":
            lines = [re.sub(r"^# ?", "", line) if line.startswith("#") else line for line in body]
        content = "\n".join(lines).strip("\n")
        if content.strip():
            pieces.append(Piece(kind, where, content))

    for line in text.splitlines():
        m = _HEADER.match(line)
        if not m:
            body.append(line)
            continue
        flush()
        rest = m.group("rest").strip()
        kind = "code"
        if rest.startswith("[markdown]") or rest.startswith("[md]"):
            kind, rest = "markdown", rest.split("]", 1)[1].strip()
        if rest:
            if rest not in ("intro", "end") and not re.fullmatch(r"(before|after)=\S+", rest):
                raise ValueError(f"{origin}: unknown cell placement {rest!r} (intro, before=<part>, "
                                 f"after=<part> or end)")
            where = rest
        body = []
    flush()
    return pieces


def _part_title(part: str) -> str:
    return part.replace("_", " ").capitalize() if part else "Other checks"


def walkthrough_notebook(assignment: Assignment):
    """The walkthrough as an nbformat v4 NotebookNode."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    extra = assignment.root / CELLS_FILE
    pieces = read_cells(extra.read_text(encoding="utf-8"), str(extra)) if extra.is_file() else []
    public = [c for c in assignment.checks if c.visibility == "public"]
    parts = list(dict.fromkeys(c.part for c in public))
    unknown = {p.where.split("=", 1)[1] for p in pieces if "=" in p.where} - set(parts)
    if unknown:
        raise ValueError(f"{extra}: cells placed at parts the public checks do not have: {sorted(unknown)} "
                         f"(parts: {parts})")
    module = assignment.module

    def placed(where: str) -> list:
        return [new_markdown_cell(p.text) if p.kind == "markdown" else new_code_cell(p.text)
                for p in pieces if p.where == where]

    cells = [
        new_markdown_cell(
            f"# {assignment.title}\n\n"
            f"This notebook walks you through `{module}.py` part by part. Write your code in `{module}.py` "
            f"(this notebook imports it; the grader grades that file, not this notebook), then run the cells "
            f"from the top. Each check cell grades your file exactly as `pytest` and the grader do, in a "
            f"separate process, with the public checks: ✅ means it passed; otherwise you get the same "
            f"message as `pytest`: what was compared, where it differs most, and the likely cause."),
        new_code_cell(
            "%load_ext autoreload\n%autoreload 2\n"
            "from grader.notebook_checks import Checks, attempt\n\n"
            f"check = Checks()  # the public checks of {module}.py, in this folder\n"
            f"with attempt('importing {module}.py'):\n    import {module}"),
    ]
    cells += placed("intro")
    for i, part in enumerate(parts, 1):
        checks = [c for c in public if c.part == part]
        rows = "\n".join(f"- `{c.name}` ({c.points:g} points): {c.description}" for c in checks)
        cells.append(new_markdown_cell(f"## Part {i}: {_part_title(part)}"))
        cells += placed(f"before={part}")
        cells.append(new_markdown_cell(f"The checks of this part:\n\n{rows}"))
        for c in checks:
            cells.append(new_code_cell(f'check("{c.name}")'))
        cells += placed(f"after={part}")
    cells += placed("end")
    cells += [new_markdown_cell("## Summary\n\nThe public checks together. Hidden checks run when you submit: "
                                "they test the same functions on other inputs."),
              new_code_cell("check.summary()")]
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "backprop_grader": {"assignment": assignment.name, "generated_by": "backprop-grader release"},
    })
    nbformat.validate(nb)
    return nb


def walkthrough_json(assignment: Assignment) -> str:
    import nbformat

    return nbformat.writes(walkthrough_notebook(assignment))
