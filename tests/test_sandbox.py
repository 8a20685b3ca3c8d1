"""The sandbox alone: bytes in, bytes out, with limits (no tensors, no checks)."""

import pytest

from grader.sandbox import Limits, Sandbox

HANDLER = '''
import os, sys, time
def handle(req, ctx):
    if req == b"sleep": time.sleep(60)
    if req == b"exit": os._exit(7)
    if req == b"flood": sys.stdout.write("y" * (3 << 20)); sys.stdout.flush()
    if req == b"big": return b"z" * (2 << 20)
    if req == b"write": open("written", "w").write("x")
    return b"echo " + req
'''


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    mod = tmp_path_factory.mktemp("handler")
    (mod / "echo_handler.py").write_text(HANDLER)
    sb = Sandbox(preload=[], handler="echo_handler:handle", sys_path=[str(mod)],
                 limits=Limits(reply_bytes=1 << 20))
    with sb:
        yield sb


def _child(sandbox, tmp_path):
    work = tmp_path / "w"
    work.mkdir(exist_ok=True)
    lease = sandbox.allocate_uid()
    if lease is not None:
        import os
        os.chown(work, lease.uid, lease.uid)
    return sandbox.spawn(work, lease=lease)


def test_echo(sandbox, tmp_path):
    child = _child(sandbox, tmp_path)
    assert child.call(b"hi", 5).payload == b"echo hi"
    assert any(p.startswith("rlimits") for p in child.protections)
    child.close()


def test_timeout_kills_and_says_so(sandbox, tmp_path):
    child = _child(sandbox, tmp_path)
    reply = child.call(b"sleep", 0.5)
    assert reply.status == "timeout" and not child.alive


def test_exit_is_reported_with_its_code(sandbox, tmp_path):
    child = _child(sandbox, tmp_path)
    reply = child.call(b"exit", 5)
    assert reply.status == "died" and "code 7" in reply.detail


def test_output_is_capped(sandbox, tmp_path):
    child = _child(sandbox, tmp_path)
    assert child.call(b"flood", 10).ok
    child.close()
    assert len(child.output()) < (1 << 20) + 200 and "more bytes of output dropped" in child.output()


def test_oversized_reply_is_refused(sandbox, tmp_path):
    child = _child(sandbox, tmp_path)
    reply = child.call(b"big", 10)
    assert reply.status == "protocol" and "over the limit" in reply.detail


def test_protections_listed_are_those_the_start_up_probe_verified(sandbox, tmp_path):
    child = _child(sandbox, tmp_path)
    claimed = child.protections
    child.close()
    said = dict(zip(child.hello["keys"], child.hello["protections"]))
    assert claimed and sandbox.protections
    for text in claimed:
        key = next((k for k, t in said.items() if t == text), None)
        assert key is None and "cgroup" in text or key in sandbox.verified, text
    assert "rlimits" in sandbox.verified and "no_new_privs" in sandbox.verified


def test_a_fresh_scratch_at_every_start(sandbox, tmp_path):
    if not sandbox.private_scratch:
        import pytest
        pytest.skip("no mount namespace in this mode: the child works in the folder itself")
    child = _child(sandbox, tmp_path)
    child.call(b"write", 5)
    child.close()
    assert not (tmp_path / "w" / "written").exists()   # the child's writes stayed in its own tmpfs
