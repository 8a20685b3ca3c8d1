"""Where the grader plugs into course platforms, one module each:

* :mod:`grader.integrations.gradescope`: the autograder zip and its ``run_autograder``;
* :mod:`grader.integrations.classroom`: a GitHub Classroom student repository and its workflow.

Output formats that are only files (JUnit, LMS import CSVs) live in :mod:`grader.report`.
"""
