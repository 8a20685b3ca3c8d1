"""What the confinement exposes and how it treats folders a child wrote in, tested
without a GPU and without timing (the red-team batch tests the attacks themselves)."""
import os

from grader.sandbox.exposure import gpu_paths
from grader.sandbox.mounts import outermost, renew_folder

FAKE_DEV = ["null", "sda", "sda1", "tty0", "nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools",
            "nvidia-modeset", "nvidia-caps/nvidia-cap1", "nvidia-caps/nvidia-cap2", "nvme0n1", "kvm", "shm"]


def test_gpu_children_get_only_nvidia_device_nodes():
    nodes, folders = gpu_paths(FAKE_DEV, exists=lambda p: p in ("/usr/local/nvidia", "/sys/bus/pci"))
    assert nodes == ["/dev/nvidia-caps/nvidia-cap1", "/dev/nvidia-caps/nvidia-cap2", "/dev/nvidia-modeset",
                     "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"]
    assert "/usr/local/nvidia" in folders and "/sys/bus/pci" in folders
    assert not any(p.startswith(("/home", "/root", "/etc/shadow")) for p in folders)


def test_no_gpu_no_nodes():
    nodes, _ = gpu_paths(["null", "sda", "tty0"], exists=lambda p: False)
    assert nodes == []


def test_bind_mounts_skip_folders_inside_others():
    assert outermost(["/usr/lib", "/usr/lib/python3.11", "/usr/lib64", "/a/b", "/a/bc"]) == \
        ["/a/b", "/a/bc", "/usr/lib", "/usr/lib64"]


def test_renewing_a_scratch_folder_never_follows_links(tmp_path):
    victim_dir = tmp_path / "victim_dir"
    victim_dir.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("secret")
    victim.chmod(0o600)
    before = [(p.stat().st_uid, p.stat().st_mode) for p in (victim, victim_dir)]
    scratch = tmp_path / "scratch"
    (scratch / "sub").mkdir(parents=True)
    (scratch / "student.py").write_text("x = 1")
    (scratch / "link_file").symlink_to(victim)
    (scratch / "sub" / "link_dir").symlink_to(victim_dir)
    uid = 3_000_123 if os.geteuid() == 0 else os.getuid()
    renew_folder(scratch, uid)
    assert sorted(str(p.relative_to(scratch)) for p in scratch.rglob("*")) == ["student.py", "sub"]
    assert (scratch / "student.py").read_text() == "x = 1"
    assert scratch.stat().st_uid == uid and (scratch / "student.py").stat().st_uid == uid
    assert [(p.stat().st_uid, p.stat().st_mode) for p in (victim, victim_dir)] == before
    assert victim.read_text() == "secret"


def test_children_can_import_python_whatever_confinement_is_left(tmp_path):
    """Without a private root (as where mount namespaces are refused) a child under
    another uid could not read a Python installed under /root: the start-up probe
    must then keep the grader's uid rather than grade everyone into zeros."""
    import sysconfig

    from grader.sandbox import Isolation, Sandbox
    from grader.sandbox.limits import readable_by_others

    handler = tmp_path / "h"
    handler.mkdir()
    handler.chmod(0o755)
    (handler / "stdlib_handler.py").write_text("def handle(req, ctx):\n    import wave\n    return b'ok'\n")
    (handler / "stdlib_handler.py").chmod(0o644)
    root = os.geteuid() == 0
    with Sandbox(preload=[], handler="stdlib_handler:handle", sys_path=[str(handler)],
                 isolation=Isolation(uid=3_000_000 if root else None, private_mounts=False)) as sandbox:
        assert not sandbox.private_scratch
        if root and not readable_by_others(sysconfig.get_paths()["stdlib"]):
            assert not sandbox.plan["uid_change"]
        work = tmp_path / "w"
        work.mkdir()
        lease = sandbox.allocate_uid()
        if lease is not None:
            renew_folder(work, lease.uid)
        child = sandbox.spawn(work, lease=lease)
        assert child.call(b"", 10).payload == b"ok"
        child.close()


def test_a_hidden_folder_inside_an_exposed_one_is_empty(tmp_path):
    """A class folder kept inside the assignment's folder must not show classmates."""
    from grader.sandbox import Isolation, Sandbox

    exposed = tmp_path / "assignment"
    (exposed / "class").mkdir(parents=True)
    (exposed / "class" / "classmate.py").write_text("answer = 42")
    for p in (tmp_path, exposed, exposed / "class"):
        p.chmod(0o755)
    (exposed / "list_handler.py").write_text(
        "import os\ndef handle(req, ctx):\n    return repr(os.listdir(req.decode())).encode()\n")
    with Sandbox(preload=[], handler="list_handler:handle", sys_path=[str(exposed)],
                 isolation=Isolation(hide=(str(exposed / "class"),))) as sandbox:
        if not sandbox.private_scratch:
            import pytest
            pytest.skip("no mount namespace in this mode: a folder inside an exposed one cannot be covered")
        work = tmp_path / "w"
        work.mkdir()
        child = sandbox.spawn(work)
        assert b"list_handler.py" in child.call(str(exposed).encode(), 10).payload
        assert child.call(str(exposed / "class").encode(), 10).payload == b"[]"
        child.close()
