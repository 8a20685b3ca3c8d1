"""Student text made safe to show: bounded, printable, and unable to change the
structure of the document it is shown in.

Student text is whatever a submission controls: exception messages, what it
printed, file and class names, student ids taken from file names. Two steps:

* :func:`clip` and :func:`clip_output` bound it and :func:`printable` drops control
  characters, once, when a :class:`~grader.report.model.Report` is built, so every
  writer gets the same bounded text;
* each writer then quotes it for its format: :func:`md_block` and :func:`md_inline`
  for Markdown, :func:`one_line` for the terminal, :func:`csv_cell` for
  spreadsheets (HTML is escaped by Jinja's autoescape).
"""
from __future__ import annotations

import re

__all__ = ["MESSAGE_CHARS", "OUTPUT_CHARS", "printable", "clip", "clip_output", "one_line",
           "md_block", "md_inline", "md_link", "csv_cell"]

MESSAGE_CHARS = 2000     # a check's message or hint, a problem, a note
OUTPUT_CHARS = 20_000    # what the student's code printed, over all its processes

# C0 and C1 controls but tab and newline (ESC starts terminal escape sequences, BEL
# rings, CR rewrites a line), DEL, zero-width characters and bidirectional overrides
# (which reorder how a line reads), the byte order mark, Unicode line separators.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_BREAKS = re.compile(r"\s*\n\s*|\t")
_BACKTICKS = re.compile(r"`+")
# What Markdown reads as inline markup, each escaped only where it could be markup so
# that report.md stays readable as text: backslashes, strikethrough, entities, raw
# HTML and autolinks ("<" before a letter), links and images ("](" or "]["), emphasis
# ("*" not between spaces, "_" at a word's edge). A one-line field cannot start a
# block (heading, list, fence, table), so nothing else is needed; in a table cell a
# pipe also ends the cell.
_MD_SPECIAL = re.compile(r"\\|~|&(?=#?\w+;)|<(?=[A-Za-z/!?])|\](?=[(\[])|(?<!\s)\*|\*(?!\s)"
                         r"|(?<![^\W_])_|_(?![^\W_])")
_MD_CELL = re.compile(_MD_SPECIAL.pattern + r"|\|")
_MD_LINK = re.compile(_MD_CELL.pattern + r"|\[|\]")
# GitHub turns "http://...", "www...." into links and takes backslashes into them, so
# an escape right after a URL would be undone ("http://x\<table>" is raw HTML there).
# Writing the ':' or '.' as a character reference keeps such text from being a link.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z]):(?=//)|(?<=www)\.")
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """``text`` without control characters (tab and newline kept; CR LF becomes LF).
    File names that are not UTF-8 reach us as surrogate escapes: they become U+FFFD."""
    text = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    return _CONTROLS.sub("", text.replace("\r\n", "\n"))


def clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    """At most about ``limit`` characters, saying how many were dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} [... {len(text) - limit} characters dropped]"


def clip_output(text: str, limit: int = OUTPUT_CHARS) -> str:
    """Printed output: its beginning and its end (where a crash shows), the middle
    dropped with a note."""
    if len(text) <= limit:
        return text
    head, tail = limit * 4 // 5, limit // 5
    return f"{text[:head]}\n[... {len(text) - head - tail} characters dropped]\n{text[-tail:]}"


def one_line(text: str) -> str:
    """Printable, on one line: for table cells, lists and the terminal."""
    return _BREAKS.sub(" ", printable(text)).strip()


def md_block(text: str) -> str:
    """A fenced code block showing ``text`` as it is: the fence is longer than any
    run of backticks inside, so nothing in the text can close it."""
    text = printable(text).rstrip("\n")
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def md_inline(text: str, cell: bool = False, _special: re.Pattern | None = None) -> str:
    """``text`` as one line of Markdown that renders as the same text: `code spans`
    (single backticks, as the grader writes them) are kept, everything else that
    Markdown would read as markup is backslash-escaped. ``cell``: for a table cell,
    where a pipe ends the cell even inside a code span."""
    line = one_line(text)
    parts, ticks = _BACKTICKS.split(line), _BACKTICKS.findall(line)
    special = _special or (_MD_CELL if cell else _MD_SPECIAL)

    def escape(plain: str) -> str:
        return _AUTOLINK.sub(lambda m: f"&#{ord(m.group())};", special.sub(r"\\\g<0>", plain))

    out = [escape(parts[0])]
    i = 0
    while i < len(ticks):
        code = parts[i + 1]
        if ticks[i] == "`" and i + 1 < len(ticks) and ticks[i + 1] == "`" and code.strip():
            out.append("`" + (code.replace("|", "\\|") if cell else code) + "`" + escape(parts[i + 2]))
            i += 2
        else:
            out.append("\\`" * len(ticks[i]) + escape(code))
            i += 1
    return "".join(out)


def md_link(text: str, href: str) -> str:
    """A link (for a table cell) whose text is ``text`` exactly: every bracket in it
    escaped, as an unbalanced one would end or nest the link text. ``href`` must be
    URL-encoded already."""
    return f"[{md_inline(text, _special=_MD_LINK)}]({href})"


def csv_cell(text: str) -> str:
    """A text cell a spreadsheet shows as text: one printable line, and a leading
    ``'`` where it would otherwise start a formula (=, +, -, @, tab, CR)."""
    text = one_line(text)
    return "'" + text if text.startswith(_CSV_FORMULA) else text
