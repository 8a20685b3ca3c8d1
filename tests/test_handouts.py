"""Hand-outs teach without answering: no statement of a solution's function bodies
(the functions students write, i.e. the ones the stub leaves unimplemented) appears
in any file of the release bundle: stub, README, walkthrough notebook, helpers, the
public grading files. Statements are compared as Python, normalised by ast.unparse,
so spacing and comments do not hide one."""
from __future__ import annotations

import ast
import json

import pytest

from conftest import ROOT
from grader import api
from grader.registry import all_assignments

LABS = [a.name for a in all_assignments(ROOT)]


def _functions(tree: ast.AST) -> dict[str, ast.AST]:
    """qualified name -> def, for functions and methods."""
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            out.update({f"{node.name}.{f.name}": f for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))})
    return out


def _unimplemented(fn: ast.AST) -> bool:
    return any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n) for n in ast.walk(fn))


def _trivial(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Pass, ast.Break, ast.Continue, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.Constant, ast.Name)):   # docstrings, names
        return True
    plain = (ast.Name, ast.Constant, ast.Attribute)

    def named(e: ast.AST) -> bool:                    # x, x.y, x['key']
        return isinstance(e, plain) or isinstance(e, ast.Subscript) and isinstance(e.value, ast.Name) \
            and isinstance(e.slice, ast.Constant)

    if isinstance(stmt, ast.Return) and (stmt.value is None or named(stmt.value) or (
            isinstance(stmt.value, ast.Tuple) and all(named(e) for e in stmt.value.elts))):
        return True                                   # return x / return loss, grads
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
            and all(isinstance(a, plain) for a in stmt.value.args) and not stmt.value.keywords:
        return True                                   # net.backward(x, y): calling the API is no answer
    return False


def solution_statements(lab: str) -> dict[str, str]:
    """normalised statement -> the function it is from, for every function the stub
    leaves to the student. Compound statements count by their header too (`for ...:`)."""
    a = next(x for x in all_assignments(ROOT) if x.name == lab)
    stub = _functions(ast.parse(a.stub.read_text()))
    solution = _functions(ast.parse((a.solution_dir / f"{a.module}.py").read_text()))
    out = {}
    for name, fn in solution.items():
        if name not in stub or not _unimplemented(stub[name]):
            continue                                    # provided code: the stub has it anyway
        given = {ast.unparse(s) for s in ast.walk(stub[name]) if isinstance(s, ast.stmt)}  # the stub's scaffold
        for stmt in ast.walk(fn):
            if isinstance(stmt, ast.stmt) and stmt is not fn and not _trivial(stmt) \
                    and not isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
                if hasattr(stmt, "body") or ast.unparse(stmt) in given:   # compound ones by their parts
                    continue
                out.setdefault(ast.unparse(stmt), name)
    return out


def _candidate_statements(text: str) -> set[str]:
    """Every statement a text holds: the whole text as Python if it parses, and each
    line on its own (markdown code, comments, prompts stripped)."""
    found = set()
    try:
        found |= {ast.unparse(s) for s in ast.walk(ast.parse(text)) if isinstance(s, ast.stmt)}
    except (SyntaxError, ValueError):
        pass
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip().removeprefix(">>>").strip().strip("`")
        try:
            found |= {ast.unparse(s) for s in ast.parse(line).body}
        except (SyntaxError, ValueError):
            continue
    return found


def bundle_texts(folder) -> dict[str, str]:
    texts = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in (".py", ".md", ".ipynb", ".toml", ".txt"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":
            text = "\n\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                               for c in json.loads(text)["cells"])
        texts[str(path.relative_to(folder))] = text
    return texts


@pytest.mark.parametrize("lab", LABS)
def test_no_solution_statement_in_the_bundle(lab, tmp_path):
    api.release(lab, tmp_path, root=ROOT)
    answers = solution_statements(lab)
    assert answers, "the solution has statements to look for"
    leaks = []
    for name, text in bundle_texts(tmp_path).items():
        for stmt in sorted(_candidate_statements(text) & set(answers)):
            leaks.append(f"{name}: `{stmt}` (from {answers[stmt]})")
    assert leaks == []


def test_the_comparison_finds_a_statement_however_it_is_written():
    answers = {"dscores = probs.clone()"}
    assert answers & _candidate_statements("Backpropagate:\n\n    dscores   =  probs.clone()   # copy\n")
    assert answers & _candidate_statements("# `dscores = probs.clone()`")
