"""The class view: ``gradebook.csv`` and a summary (Markdown and HTML)."""
from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from pathlib import Path

from grader.report.model import Report, format_points


@dataclass(frozen=True)
class Gradebook:
    assignment: str
    reports: tuple[Report, ...]
    check_names: tuple[str, ...]   # in the assignment's order

    @classmethod
    def of(cls, assignment: str, reports: list[Report], check_names: list[str]) -> "Gradebook":
        return cls(assignment, tuple(sorted(reports, key=lambda r: r.student)), tuple(check_names))

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["student", "score", "max_score", "status", *self.check_names])
        for r in self.reports:
            by_name = {c.name: c for c in r.checks}
            w.writerow([r.student, format_points(r.score), format_points(r.max_score), r.status,
                        *[format_points(by_name[n].score) if n in by_name and by_name[n].status != "skipped" else ""
                          for n in self.check_names]])
        return buf.getvalue()

    def pass_rates(self) -> list[tuple[str, float, int, int, int]]:
        """(check, pass rate, passed, errors+timeouts, graded) per check."""
        out = []
        for n in self.check_names:
            results = [c for r in self.reports for c in r.checks if c.name == n and c.status != "skipped"]
            passed = sum(c.status == "passed" for c in results)
            broken = sum(c.status in ("error", "timeout") for c in results)
            out.append((n, passed / len(results) if results else 0.0, passed, broken, len(results)))
        return out

    def histogram(self, bins: int = 10) -> list[tuple[str, int]]:
        counts = [0] * bins
        for r in self.reports:
            i = min(bins - 1, int(r.percent / (100 / bins)))
            counts[i] += 1
        return [(f"{i * 100 // bins}-{(i + 1) * 100 // bins}%", c) for i, c in enumerate(counts)]

    def summary_markdown(self) -> str:
        n = len(self.reports)
        scores = sorted(r.percent for r in self.reports)
        lines = [f"# {self.assignment}: class summary", ""]
        if not n:
            return "\n".join(lines + ["No submissions graded.", ""])
        mean = sum(scores) / n
        median = scores[n // 2] if n % 2 else (scores[n // 2 - 1] + scores[n // 2]) / 2
        lines += [f"{n} submissions · mean {mean:.1f}% · median {median:.1f}% · "
                  f"{sum(r.status == 'error' for r in self.reports)} could not be run", "",
                  "## Score distribution", "", "| range | students | |", "|---|---:|---|"]
        for label, count in self.histogram():
            lines.append(f"| {label} | {count} | {'█' * count} |")
        lines += ["", "## Checks", "", "| check | pass rate | passed | errors/timeouts |", "|---|---:|---:|---:|"]
        for name, rate, passed, broken, total in self.pass_rates():
            lines.append(f"| `{name}` | {rate:.0%} | {passed}/{total} | {broken} |")
        problems = [r for r in self.reports if r.problem]
        if problems:
            lines += ["", "## Submissions that could not be run", ""]
            lines += [f"- **{r.student}**: {r.problem}" for r in problems]
        flagged = [r for r in self.reports if r.integrity]
        if flagged:
            # Signs of tampering, with what was seen: for the instructor to look at.
            lines += ["", "## Integrity flags", ""]
            for r in flagged:
                seen = "; ".join(f"{f.get('kind')}: {f.get('evidence')}" for f in r.integrity[:5])
                more = f" (and {len(r.integrity) - 5} more in report.json)" if len(r.integrity) > 5 else ""
                lines.append(f"- **{r.student}**: {seen}{more}")
        slow = sorted(self.reports, key=lambda r: -r.duration_s)[:5]
        lines += ["", "## Slowest submissions", ""]
        lines += [f"- {r.student}: {r.duration_s:.1f} s" for r in slow]
        return "\n".join(lines) + "\n"

    def summary_html(self, histogram_png_b64: str | None = None) -> str:
        # Markdown tables rendered as HTML without another dependency: the summary is
        # simple enough, and everything is escaped.
        md = self.summary_markdown()
        body = []
        in_table = False
        for line in md.splitlines():
            if line.startswith("|"):
                cells = [html.escape(c.strip().strip("`")) for c in line.strip("|").split("|")]
                if set(line) <= set("|-: "):
                    continue
                if not in_table:
                    body.append("<table>")
                    in_table = True
                    body.append("<tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>")
                else:
                    body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
                continue
            if in_table:
                body.append("</table>")
                in_table = False
            if line.startswith("# "):
                body.append(f"<h1>{html.escape(line[2:])}</h1>")
            elif line.startswith("## "):
                body.append(f"<h2>{html.escape(line[3:])}</h2>")
                if line == "## Score distribution" and histogram_png_b64:
                    body.append(f'<img alt="score histogram" src="data:image/png;base64,{histogram_png_b64}">')
            elif line.startswith("- "):
                body.append(f"<li>{html.escape(line[2:]).replace('**', '')}</li>")
            elif line:
                body.append(f"<p>{html.escape(line)}</p>")
        if in_table:
            body.append("</table>")
        style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
                 "table{border-collapse:collapse}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}"
                 "img{max-width:100%}")
        return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(self.assignment)}"
                f" summary</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n")

    def write(self, folder: Path, histogram_png_b64: str | None = None) -> list[Path]:
        files = {
            "gradebook.csv": self.csv_text(),
            "summary.md": self.summary_markdown(),
            "summary.html": self.summary_html(histogram_png_b64),
        }
        out = []
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
            out.append(folder / name)
        return out
