"""The student runner's processes (grader.student.processes) on a Python without Linux's
extras: a reply, a timeout that kills and lets the next process start, a crash, output
kept apart from the protocol, an end with the grader. Each case runs in one Python started with
tests/not_linux/sitecustomize.py, as on a macOS or Windows laptop."""
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import ROOT

NOT_LINUX = ROOT / "tests" / "not_linux"

SCRIPT = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    from grader.codec import decode, encode
    from grader.student.processes import LocalProcesses

    assert "fcntl" in sys.modules and sys.modules["fcntl"] is None   # the laptop we pretend to be
    processes = LocalProcesses(preload=["numpy", "grader.harness"])
    out = {}
    work = Path(sys.argv[1])
    probes = work / "probes.py"
    probes.write_text("def value(m, inputs, ctx):\\n    return m.f(inputs)\\n")

    def load(name, source):
        (work / f"{name}.py").write_text(source)
        child = processes.spawn(work)
        reply = child.call(encode({"op": "load", "module": name, "path": str(work / f"{name}.py"),
                                   "probes": str(probes), "helpers": None, "names": ["f"]}), 30)
        return child, reply

    def run(child, x, timeout_s):
        return child.call(encode({"op": "run", "probe": "value", "inputs": x, "device": "cpu",
                                  "seed": 0, "options": {}}), timeout_s)

    child, reply = load("good", "print('hello from import')\\ndef f(x):\\n    print('in f')\\n    return x * 2\\n")
    r = run(child, 21, 30)
    out["good"] = [reply.status, decode(reply.payload)["ok"], r.status, decode(r.payload)["value"]]
    out["protections"] = child.protections
    child.close()
    out["good_output"] = child.output()

    child, _ = load("loops", "def f(x):\\n    while True:\\n        pass\\n")
    started = time.monotonic()
    r = run(child, 1, 1.0)
    out["loops"] = [r.status, r.detail, child.alive, time.monotonic() - started < 30]
    child2, reply = load("again", "def f(x):\\n    return x\\n")
    out["after_timeout"] = [reply.status, decode(run(child2, 5, 30).payload)["value"]]
    child2.close()

    import signal, threading
    child, _ = load("interrupted", "def f(x):\\n    while True:\\n        pass\\n")
    main = threading.main_thread().ident   # Ctrl-C while a check runs (a notebook cell)
    threading.Timer(1.0, signal.pthread_kill, (main, signal.SIGINT)).start()
    try:
        run(child, 1, 60)
    except KeyboardInterrupt:
        out["interrupted"] = [child.alive, run(child, 1, 5).status]
    child, _ = load("exits", "import os\\ndef f(x):\\n    os._exit(3)\\n")
    r = run(child, 1, 30)
    out["exits"] = [r.status, r.detail, child.alive]
    from grader.sandbox import SandboxError
    try:
        LocalProcesses(preload=["numpy", "no_such_module"]).spawn(work)
    except SandboxError as exc:
        out["cannot_start"] = str(exc)
    print("RESULT" + json.dumps(out))
''')


def test_processes_without_linux_features(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(NOT_LINUX), str(ROOT)])}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.split("RESULT", 1)[1])
    assert out["good"] == ["ok", True, "ok", 42]
    assert out["protections"] == ["a separate process (student mode: no confinement)", "a time limit on each call"]
    assert "hello from import" in out["good_output"] and "in f" in out["good_output"]   # kept apart from replies
    assert out["loops"] == ["timeout", "no answer within 1 s", False, True]
    assert out["after_timeout"] == ["ok", 5]                                            # the next process serves
    assert out["interrupted"] == [False, "died"]          # its late reply cannot answer a later call
    assert out["exits"] == ["died", "the process exited with code 3 (sys.exit or os._exit in your code?)", False]
    assert out["cannot_start"] == ("the student process could not start (exit status 1): "
                                   "ModuleNotFoundError: No module named 'no_such_module'")   # one line, no traceback


ORPHAN = textwrap.dedent('''
    import os, sys, threading, time
    from pathlib import Path
    from grader.codec import encode
    from grader.student.processes import LocalProcesses

    work = Path(sys.argv[1])
    (work / "probes.py").write_text("def value(m, inputs, ctx):\\n    return m.f(inputs)\\n")
    (work / "loops.py").write_text("def f(x):\\n    while True:\\n        pass\\n")
    child = LocalProcesses(preload=["numpy", "grader.harness"]).spawn(work)
    child.call(encode({"op": "load", "module": "loops", "path": str(work / "loops.py"),
                       "probes": str(work / "probes.py"), "helpers": None, "names": ["f"]}), 30)
    threading.Thread(target=child.call, args=(encode({"op": "run", "probe": "value", "inputs": 1, "device": "cpu",
                                                      "seed": 0, "options": {}}), 600), daemon=True).start()
    time.sleep(1)
    print(child.pid, flush=True)
    os._exit(0)   # the grader dies without a word, its child in the middle of an infinite loop
''')


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_a_child_ends_when_its_grader_dies_mid_loop(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(NOT_LINUX), str(ROOT)])}
    run = subprocess.run([sys.executable, "-c", ORPHAN, str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=300)
    pid = int(run.stdout.split()[-1])
    deadline = time.monotonic() + 60
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(pid)
