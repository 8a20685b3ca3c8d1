"""Notebooks: the release walkthrough, .ipynb submissions, the feedback notebook.

Reads as a table: a notebook holding the solution earns what the solution's .py
earns, whatever else its cells do (magics, shell lines, plots, training, an error,
a hostile cell) in the default definitions-only mode; --execute-notebook runs it
all and fails on the first error or the time limit; a bad file gets its reason;
an error names the cell and the line in it.
"""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import ROOT, failing, mutate, solution_source, stub_source
from grader import api
from grader.notebook import notebook_module
from grader.submission import load_submission

A = "two_layer_net"
FORWARD = "hidden = (X.mm(W1) + b1).clamp(min=0)"   # a line of the solution's nn_forward_pass


def notebook(*cells: str, version: int = 4) -> bytes:
    """A notebook with a markdown title (cell 1) and one code cell per argument (cells 2...)."""
    nb = new_notebook(cells=[new_markdown_cell("# Homework")] + [new_code_cell(c) for c in cells])
    return nbformat.writes(nb).encode()


def module_of(*cells: str, mode: str = "definitions") -> str:
    nb = notebook_module(notebook(*cells), "hw.ipynb", A, mode)
    assert nb.problem is None, nb.problem
    return nb.source


@pytest.fixture(scope="module")
def solution_report(sandboxes, tmp_path_factory):
    path = tmp_path_factory.mktemp("sol") / f"{A}.py"
    path.write_text(solution_source(A))
    return api.grade(path, A, root=ROOT, sandbox=sandboxes(A))


def scores(report) -> dict[str, tuple[str, float]]:
    return {c.name: (c.status, c.score) for c in report.checks}


# -- the definitions filter (no sandbox) ------------------------------------------------------
@pytest.mark.parametrize("cell, kept", [
    ("import torch", True),
    ("def f(x):\n    return x", True),
    ("@torch.no_grad()\ndef g():\n    pass", True),
    ("class Net:\n    pass", True),
    ("EPS = 1e-8", True),
    ("DT = torch.float64", True),
    ("device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')", True),
    ("try:\n    import google.colab\nexcept ImportError:\n    pass", True),
    ("X = torch.randn(3)", False),                       # a call that is not a pure one
    ("stats = nn_train(params)", False),                 # training
    ("plt.plot([1, 2])", False),                         # plotting
    ("print('hi')", False),
    ("for i in range(3):\n    pass", False),
    ("params['W1'] = 0", False),                          # changes data
    ("lr = best_lr", False),                              # a name nothing kept defines
    ("if __name__ == '__main__':\n    main()", False),
    ("while True:\n    pass", False),
])
def test_definitions_filter(cell, kept):
    source = module_of("import torch", cell)
    assert (cell.splitlines()[-1] in source) is kept


@pytest.mark.parametrize("line", ["%matplotlib inline", "!pip install x", "files = !ls", "torch.randn?",
                                  "%time y = 1"])
def test_ipython_lines_are_removed(line):
    source = module_of(f"import torch\n{line}\ndef f():\n    return 1")
    assert line not in source and "def f():" in source


def test_ipython_syntax_inside_strings_and_cell_magics():
    text = 's = """\n%not a magic\n!nor a shell line\n"""'
    assert module_of(text).count("%not a magic") == 1                      # strings are left alone
    assert "def f" in module_of("%%time\ndef f():\n    return 1")            # Python body kept
    nb = notebook_module(notebook("%%bash\necho hi", "def f():\n    return 1"), "hw.ipynb", A)
    assert "def f" in nb.source and any("%%bash" in n for n in nb.notes)


def test_same_line_statements_are_cut_apart():
    source = module_of("import os; os.system('touch /tmp/pwned')")
    assert "import os" in source and "system" not in source


def test_cell_numbers_count_every_cell():
    nb = notebook_module(notebook("import torch", "x = 1\ndef f():\n    return 1"), "hw.ipynb", A)
    line = nb.source.splitlines().index("def f():") + 1
    assert nb.place(line) == "cell 3, line 2" and nb.cell_of("f") == 3


@pytest.mark.parametrize("data, reason", [
    (b"this is not json", "not valid JSON"),
    (b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}', "nbformat v3, not nbformat v4"),
    (nbformat.writes(new_notebook(cells=[new_markdown_cell("only words")])).encode(), "has no code cells"),
    (notebook("   ", ""), "has no code"),
    (b"", "is empty"),
])
def test_bad_notebooks_get_their_reason(tmp_path, data, reason):
    path = tmp_path / "hw.ipynb"
    path.write_bytes(data)
    sub = load_submission(path, A)
    assert reason in sub.problem


def test_bad_notebook_grades_as_zero_with_the_reason(grade_source):
    report = grade_source(A, b"{not json", filename="hw.ipynb")
    assert report.status == "error" and report.score == 0 and "not valid JSON" in report.problem


# -- grading notebook submissions -------------------------------------------------------------
def test_magics_shell_plots_and_training_grade_like_the_py(grade_source, solution_report):
    nb = notebook(
        "%matplotlib inline\n!pip install nothing-at-all\nimport torch\nimport matplotlib.pyplot as plt",
        solution_source(A),
        "from helpers import get_toy_data\nX, y, params = get_toy_data()\n"
        "stats = nn_train(params, nn_forward_backward, nn_predict, X, y, X, y, num_iters=10)",
        "plt.plot(stats['loss_history'])\nplt.show()\nfiles = !ls\n%time nn_predict(params, nn_forward_backward, X)",
    )
    report = grade_source(A, nb, filename="hw.ipynb")
    assert scores(report) == scores(solution_report)
    assert any("skipped" in n and "cells 4, 5" in n for n in report.notes)


def test_top_level_error_after_the_definitions(grade_source, solution_report):
    nb = notebook(solution_source(A), "x = 1\nundefined_name + 1\n1 / 0")
    assert scores(grade_source(A, nb, filename="hw.ipynb")) == scores(solution_report)
    strict = grade_source(A, nb, filename="hw.ipynb", execute_notebook=True)
    assert strict.score == 0
    assert strict.problem == ("running hw.ipynb failed: NameError at module level, cell 3, line 2 "
                              "(`undefined_name + 1`) of hw.ipynb: name 'undefined_name' is not defined")


def test_duplicate_definition_the_last_wins(grade_source, solution_report):
    broken = "def nn_forward_pass(params, X):\n    raise ValueError('first draft')"
    report = grade_source(A, notebook(broken, solution_source(A)), filename="hw.ipynb")
    assert scores(report) == scores(solution_report)
    assert any("nn_forward_pass is defined in cells 2, 3" in n for n in report.notes)
    report = grade_source(A, notebook(solution_source(A), broken), filename="hw.ipynb")
    assert failing(report)["forward_pass_toy"] == "error"
    message = {c.name: c.message for c in report.checks}["forward_pass_toy"]
    assert message == "ValueError in nn_forward_pass, cell 3, line 2 (`raise ValueError('first draft')`) of hw.ipynb: first draft"


def test_hostile_cell_never_runs_in_definitions_mode(grade_source, solution_report, tmp_path):
    witness = tmp_path / "pwned"
    hostile = f"import os; os.system('echo PWNED; touch {witness}')\nprint('PWNED')\nwhile True:\n    pass"
    nb = notebook(solution_source(A), hostile)
    report = grade_source(A, nb, filename="hw.ipynb")
    assert scores(report) == scores(solution_report)
    assert "PWNED" not in report.output and not witness.exists()
    strict = grade_source(A, nb, filename="hw.ipynb", execute_notebook=True, notebook_timeout_s=2)
    assert strict.score == 0 and "did not finish within 2 s" in strict.problem
    assert "PWNED" in strict.output          # it ran, in the sandbox, until the time limit


def test_error_in_a_student_function_names_cell_and_line(grade_source):
    source = mutate(solution_source(A), FORWARD, FORWARD + "\n    hidden = hidden[:, :2] @ W1")
    report = grade_source(A, notebook("import torch", source), filename="hw.ipynb")
    line = source.splitlines().index("    hidden = hidden[:, :2] @ W1") + 1
    message = {c.name: c.message for c in report.checks}["forward_pass_toy"]
    assert message.startswith(f"RuntimeError in nn_forward_pass, cell 3, line {line} "
                              f"(`hidden = hidden[:, :2] @ W1`) of hw.ipynb:"), message


def test_stub_notebook_is_not_implemented_with_cell_numbers(grade_source):
    report = grade_source(A, notebook(stub_source(A)), filename="hw.ipynb")
    assert scores(report) == scores(grade_source(A, stub_source(A)))
    assert {c.name: c.message for c in report.checks}["forward_pass_toy"].startswith(
        "not implemented yet (nn_forward_pass, cell 2, line")


# -- the feedback notebook ----------------------------------------------------------------------
def test_feedback_notebook_follows_each_defining_cell(sandboxes, tmp_path):
    source = mutate(solution_source(A), FORWARD, FORWARD.replace("clamp(min=0)", "clamp(min=0) * 2"))
    nb = nbformat.reads(notebook("import torch", source, "print('training...')").decode(), as_version=4)
    nb.cells.append(new_markdown_cell("<script>alert('md')</script><img src=x onerror=\"alert('img')\">"))
    nb.cells[-2].outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": "<script>alert('html')</script>", "application/javascript": "alert('js')"})]
    path = tmp_path / "hw.ipynb"
    path.write_text(nbformat.writes(nb))
    out = tmp_path / "out"
    report = api.grade(path, A, out, root=ROOT, sandbox=sandboxes(A))
    fb = nbformat.read(out / "feedback.ipynb", as_version=4)
    nbformat.validate(fb)
    tagged = [i for i, c in enumerate(fb.cells) if "backprop-grader-feedback" in c.metadata.get("tags", [])]
    assert tagged[0] == 0                                   # the summary first
    assert fb.cells[3].source.startswith(source[:30])       # title, import cell, the definitions...
    assert fb.cells[4].source.startswith("### Feedback on `nn_forward_pass` (cell 3):")  # ...then feedback
    text = "\n".join(fb.cells[i].source for i in tagged)
    on_record = json.loads((out / "report.json").read_text())
    for c in on_record["checks"]:
        assert f"`{c['name']}` ({c['score']:g} / {c['max_score']:g}" in text
    hidden = [c for c in on_record["checks"] if c["visibility"] == "hidden" and c["status"] == "failed"]
    assert hidden, "the mutant should fail a hidden check"
    for c in hidden:  # the fixed text of the outcome: nothing derived from hidden inputs or expected values
        shown = f"`{c['name']}` ({c['score']:g} / {c['max_score']:g}, hidden check): wrong result"
        assert shown in text and text.count(f"`{c['name']}`") == 1
    html = (out / "feedback.html").read_text()
    assert "<h3" in html and "Feedback on" in html and "nn_forward_pass" in html
    assert "alert(" not in html.replace("&lt;script&gt;alert(", "") and "onerror" not in html  # student script
    assert report.score < report.max_score


# -- a class folder mixing every kind ------------------------------------------------------------
def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_class_folder_grades_each_entry_as_alone(sandboxes, tmp_path):
    sol, stub = solution_source(A), stub_source(A)
    bug = mutate(sol, FORWARD, FORWARD + "\n    raise ValueError('oops')")   # fails fast
    cls = tmp_path / "class"
    cls.mkdir()
    (cls / "alice.py").write_text(sol)
    (cls / "bob.ipynb").write_bytes(notebook("%pip install torch", bug, "stats = nn_train(1, 2)"))
    (cls / "carol").mkdir()
    (cls / "carol" / "hw.ipynb").write_bytes(notebook(stub))
    (cls / "carol" / "notes.txt").write_text("my notes")
    (cls / "dave.zip").write_bytes(_zip({"dave/hw.ipynb": notebook("!ls", bug)}))
    (cls / "erin.zip").write_bytes(_zip({f"{A}.py": bug.encode()}))
    out = tmp_path / "out"
    together = {r.student: r for r in api.batch(cls, A, out, root=ROOT, workers=2).reports}
    assert sorted(together) == ["alice", "bob", "carol", "dave", "erin"]
    for entry in sorted(cls.iterdir()):
        student = entry.stem
        alone = api.grade(entry, A, root=ROOT, sandbox=sandboxes(A), student=student)
        assert scores(together[student]) == scores(alone), student
        assert together[student].score == alone.score
    assert together["alice"].score == together["alice"].max_score
    assert together["bob"].score == together["dave"].score == together["erin"].score < together["alice"].score
    assert together["carol"].score < together["bob"].score
    assert (out / "bob" / "feedback.html").is_file() and (out / "dave" / "feedback.ipynb").is_file()
    assert not (out / "alice" / "feedback.ipynb").exists()      # a .py gets no feedback notebook


# -- the release walkthrough ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    api.release(A, out, root=ROOT)
    return out


def test_walkthrough_is_built_from_the_public_checks(bundle):
    nb = nbformat.read(bundle / f"{A}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    a = api._assignment(A, ROOT)
    public = [c.name for c in a.checks if c.visibility == "public"]
    assert [s for s in code if s.startswith("check(")] == [f'check("{n}")' for n in public]
    assert not any(c.name in "\n".join(code) for c in a.checks if c.visibility == "hidden")
    headings = [c.source.splitlines()[0] for c in nb.cells if c.source.startswith("## Part")]
    parts = dict.fromkeys(c.part for c in a.checks if c.visibility == "public")
    assert headings == [f"## Part {i}: {p.capitalize()}" for i, p in enumerate(parts, 1)]
    assert headings[:3] == ["## Part 1: Forward", "## Part 2: Loss", "## Part 3: Gradients"]
    assert any("compute_numeric_gradient(" in s for s in code) and any("load_digits(" in s for s in code)


def _execute(bundle: Path, folder: Path, module_source: str) -> tuple[str, int]:
    """Run a copy of the walkthrough top to bottom with ``module_source`` as the
    student's module; -> (what it printed, how many images it showed)."""
    from nbconvert.preprocessors import ExecutePreprocessor

    shutil.copytree(bundle, folder)
    (folder / f"{A}.py").write_text(module_source)
    nb = nbformat.read(folder / f"{A}.ipynb", as_version=4)
    ExecutePreprocessor(timeout=300, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(folder)}})
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    return text, sum("image/png" in o.get("data", {}) for o in outputs)


@pytest.fixture(scope="module")
def walkthrough_runs(bundle, tmp_path_factory) -> dict:
    """The walkthrough executed with the solution and with the stub, side by side (two
    kernels); a cell that raises makes the executor raise, so the tests see it."""
    from concurrent.futures import ThreadPoolExecutor

    tmp = tmp_path_factory.mktemp("walkthrough")
    sources = {"solution": solution_source(A), "stub": stub_source(A)}
    with ThreadPoolExecutor(2) as pool:
        futures = {k: pool.submit(_execute, bundle, tmp / k, s) for k, s in sources.items()}
        return {k: f.result() for k, f in futures.items()}


def _graded_in_notebook() -> list:
    """The public checks the walkthrough grades (it grades on the CPU: CUDA ones are skipped)."""
    return [c for c in api._assignment(A, ROOT).checks if c.visibility == "public" and c.requires != "cuda"]


def test_walkthrough_runs_clean_with_the_solution(walkthrough_runs):
    text, images = walkthrough_runs["solution"]
    public = _graded_in_notebook()
    assert text.count("✅") == len(public) and "💥" not in text and "❌" not in text
    assert f"public checks: {len(public)} of {len(public)} passed" in text
    assert "rel_error" in text and "check this step" not in text         # the numeric gradient check
    assert images == 2                                                    # toy loss; digits loss and accuracy


def test_walkthrough_runs_to_the_end_on_the_stub(walkthrough_runs):
    text, images = walkthrough_runs["stub"]
    n, passed = len(_graded_in_notebook()), text.count("✅")
    assert passed < n / 4 and text.count("not implemented yet") >= n - passed
    assert "⏳ training on the digits data: not implemented yet" in text   # the last step ran too
    assert f"public checks: {passed} of {n} passed" in text
