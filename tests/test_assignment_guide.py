"""assignments/README.md's smallest example, built from the page itself: a new lab is
one folder and a solution, with no change to the grader."""
import re

from conftest import ROOT
from grader import api


def _files_from_guide() -> dict[str, str]:
    text = (ROOT / "assignments" / "README.md").read_text()
    example = text[text.index("## The smallest possible example"):]
    return {path: body for path, body in
            re.findall(r"`([\w/]+\.(?:toml|py))`:\n\n```\w+\n(.*?)```", example, flags=re.S)}


def test_the_guide_example_grades(tmp_path):
    files = _files_from_guide()
    assert set(files) == {"assignments/sigmoid/assignment.toml", "assignments/sigmoid/probes.py",
                          "assignments/sigmoid/judges.py", "assignments/sigmoid/sigmoid.py",
                          "solutions/sigmoid/sigmoid.py"}
    for rel, body in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    api.make_reference("sigmoid", root=tmp_path)
    assert [a["name"] for a in api.list_assignments(tmp_path)] == ["sigmoid"]
    full = api.grade(tmp_path / "solutions" / "sigmoid" / "sigmoid.py", "sigmoid", root=tmp_path)
    assert (full.score, full.max_score) == (10.0, 10.0)
    stub = api.grade(tmp_path / "assignments" / "sigmoid" / "sigmoid.py", "sigmoid", root=tmp_path)
    assert stub.score == 0 and "not implemented yet" in stub.checks[0].message
    wrong = tmp_path / "wrong.py"
    wrong.write_text(files["solutions/sigmoid/sigmoid.py"].replace("dout * s * (1 - s)", "dout * s"))
    report = api.grade(wrong, "sigmoid", root=tmp_path)
    assert report.score == 0 and "largest difference" in report.checks[0].message
    bundle = tmp_path / "bundle"
    api.release("sigmoid", bundle, root=tmp_path)
    assert (bundle / "sigmoid.py").is_file() and (bundle / "grading" / "assignment.toml").is_file()
