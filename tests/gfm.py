"""Markdown as GitHub shows it: rendered by cmarkgfm (bindings to GitHub's own
cmark-gfm, with its table, strikethrough, autolink and tagfilter extensions), raw
HTML kept so that markup injected by student text would show up as tags."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options


@dataclass
class Page:
    tables: list[list[list[str]]] = field(default_factory=list)   # per table, rows of cell texts (header first)
    headings: list[tuple[str, str]] = field(default_factory=list)  # (tag, text)
    pre: list[str] = field(default_factory=list)                   # code blocks, as shown
    links: list[tuple[str, str]] = field(default_factory=list)     # (text, href)
    tags: Counter = field(default_factory=Counter)
    text: str = ""


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[tuple[str, list[str], dict]] = []
        self.row: list[str] | None = None
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.page.tags[tag] += 1
        if tag == "table":
            self.page.tables.append([])
        elif tag == "tr":
            self.row = []
        if tag in ("td", "th", "h1", "h2", "h3", "pre", "a"):
            self.stack.append((tag, [], dict(attrs)))

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1][0] == tag:
            _, parts, attrs = self.stack.pop()
            text = "".join(parts)
            if tag in ("td", "th") and self.row is not None:
                self.row.append(text.strip())
            elif tag.startswith("h"):
                self.page.headings.append((tag, text.strip()))
            elif tag == "pre":
                self.page.pre.append(text)
            elif tag == "a":
                self.page.links.append((text, attrs.get("href", "")))
            for _, outer, _ in self.stack:  # text inside a link still belongs to its cell
                outer.append(text)
        elif tag == "tr" and self.row is not None and self.page.tables:
            self.page.tables[-1].append(self.row)
            self.row = None

    def handle_data(self, data):
        self.texts.append(data)
        if self.stack:
            self.stack[-1][1].append(data)


def render(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def read(markdown: str) -> Page:
    reader = _Reader()
    reader.feed(render(markdown))
    reader.page.text = "".join(reader.texts)
    return reader.page
