"""A student's first steps, followed literally from the bundle's README: its Linux/macOS
install line in a fresh virtual environment (no site packages: torch, the grader's wheel
from the bundle and its dependencies, as on a new laptop), then its command that runs
the checks, on the stub and on the solution. The slowest test here (~1 min: installing
torch); pip's byte-compiling is left to the first import."""
import os
import re
import shutil
import subprocess

from conftest import ROOT, solution_source
from grader import api

A = "two_layer_net"


def readme_commands(readme: str, section: str) -> list[str]:
    """The lines of the first ```sh block under ``## section``."""
    body = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", body, flags=re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_install_line_then_pytest_in_a_fresh_venv(tmp_path):
    bundle = tmp_path / A
    api.release(A, bundle, root=ROOT)
    readme = (bundle / "README.md").read_text()
    install, check = readme_commands(readme, "Install (once)"), readme_commands(readme, "Checking your work")
    assert len(install) == 1 and check == [".venv/bin/python -m pytest"]
    # Nothing of this test's own environment leaks in: no venv on PATH, no PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PATH=os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p),
               PIP_NO_COMPILE="1", PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(["bash", "-c", install[0]], cwd=bundle, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    shown = subprocess.run([".venv/bin/python", "-c", "import grader, sys; print(grader.__file__)"],
                           cwd=bundle, env=env, capture_output=True, text=True)
    assert str(bundle / ".venv") in shown.stdout                  # the wheel's copy, not this checkout

    stub = subprocess.run(["bash", "-c", check[0]], cwd=bundle, env=env, capture_output=True, text=True)
    assert stub.returncode == 1 and "not implemented yet" in stub.stdout and "Traceback" not in stub.stdout
    assert "public checks: 0 / " in stub.stdout
    shutil.copy(ROOT / "solutions" / A / f"{A}.py", bundle / f"{A}.py")
    assert (bundle / f"{A}.py").read_text() == solution_source(A)
    solved = subprocess.run(["bash", "-c", check[0]], cwd=bundle, env=env, capture_output=True, text=True)
    assert solved.returncode == 0, solved.stdout[-3000:]
    total = re.search(r"public checks: (\S+) / (\S+) points\n", solved.stdout)
    assert total and total.group(1) == total.group(2)
