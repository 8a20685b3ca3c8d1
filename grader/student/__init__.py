"""Student mode: the public checks on a student's own machine, Linux, macOS or Windows.

Grading for marks (``backprop-grader grade`` and ``batch``) runs student code in
:mod:`grader.sandbox`, a Linux confinement (fork server, namespaces, rlimits,
uids). A student checking their own work needs no confinement from their own
code, only a separate process and time limits, so student mode uses nothing but
the standard library's portable parts:

* :mod:`grader.student.processes`: ``python -m grader.student.child`` started with
  ``subprocess`` and three pipes; each call waits on a reader thread with a
  deadline, and on a timeout the process is killed (POSIX: its process group,
  made with ``start_new_session``; Windows: its tree, with ``taskkill /T``) and a
  new one serves the next check.
* :mod:`grader.student.child`: the same :func:`grader.harness.handle` as the
  sandbox's children, behind the same length-prefixed frames, on stdin/stdout.
* :mod:`grader.student.bundle`: a bundle's public checks one at a time through
  :class:`grader.grading.GradingRun`: the same probes, judges and messages.

No ``fcntl``, ``resource``, ``termios``, ``os.fork``, ``select.poll``, Unix sockets,
``/proc`` or ``prctl`` on this path (tests/test_student_runner.py runs it with them
taken away).
"""
from grader.student.bundle import DEFAULT_CHECK_TIMEOUT_S, BundleChecks, SetupProblem, Totals
from grader.student.processes import LocalChild, LocalProcesses

__all__ = ["BundleChecks", "Totals", "SetupProblem", "DEFAULT_CHECK_TIMEOUT_S", "LocalProcesses", "LocalChild"]
