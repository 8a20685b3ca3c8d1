"""Child-side runtime: import the student's module, run an assignment's probes on it,
and send back plain data.

This runs inside the sandboxed child (``grader.sandbox`` calls :func:`handle`). It
knows about tensors but not about scores: a probe calls the student's functions
and returns what they produced; whether that is right is decided in the grader's
process by the judges. Whatever the student does in here (monkeypatching torch,
printing fake results, exiting) can only change the data sent back, never the
verdict on it.

Requests (decoded with :mod:`grader.codec`):

* ``{"op": "load", "module": name, "path": file, "probes": file, "names": [...]}``
* ``{"op": "run", "probe": fn, "inputs": {...}, "device": "cpu", "options": {...}}``
  or with ``"make_inputs": fn, "inputs_args": {...}`` to build the inputs here
* ``{"op": "make_inputs", "fn": name, "args": {...}}`` (reference generation)
* ``{"op": "env"}``
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import tempfile
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.codec import encode, decode

_MAX_TEXT = 2000


class ProbeError(Exception):
    """A probe found the student's output unusable (wrong type, missing key...).

    Raised by probes with a student-facing message; reported as an error of the
    check, not as a crash of the grader.
    """


@dataclass
class ProbeContext:
    """What a probe gets besides the student's module and the inputs."""

    device: str
    options: dict
    helpers: types.ModuleType | None
    workdir: Path
    printed: list[str] = field(default_factory=list)
    measured: set[str] = field(default_factory=set)   # the watches the probe used: what it observed in here

    def tensor(self, value: Any, dtype: Any = None):
        """A torch tensor made on the CPU from ``value``, then moved to the device."""
        import torch

        t = torch.as_tensor(np.array(value))
        if dtype is not None:
            t = t.to(dtype=_torch_dtype(dtype))
        return t.to(self.device)

    def tensors(self, values: dict, dtype: Any = None) -> dict:
        return {k: self.tensor(v, dtype) for k, v in values.items()}

    @contextlib.contextmanager
    def capture_stdout(self):
        """Collect what the student prints (Python-level and file-descriptor level)."""
        self.measured.add("stdout")
        sys.stdout.flush()
        buf = io.StringIO()
        with tempfile.TemporaryFile(mode="w+b", dir=self.workdir) as raw:
            saved = os.dup(1)
            os.dup2(raw.fileno(), 1)
            try:
                with contextlib.redirect_stdout(buf):
                    yield buf
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
                os.close(saved)
                raw.seek(0)
                buf.write(raw.read(1 << 20).decode("utf-8", errors="replace"))


    @contextlib.contextmanager
    def watch_autograd(self):
        """Record uses of autograd inside the block: a list of what was seen, empty when
        none. For "no autograd in this function" checks (the probe returns the list and
        the judge decides) and for counting ``backward()`` calls.

        Two observers, because either alone is easy to launder from student code:

        * Python spies on ``Tensor.backward``, ``torch.autograd.grad`` and
          ``torch.autograd.backward`` name what was called. An alias taken at import,
          or a direct call of the engine, goes around them.
        * The autograd engine itself: a backward pass reads the tensors its forward
          pass saved, through ``saved_tensors_hooks`` (C++ calls our unpack hook,
          whichever Python name started the pass). Recording a graph is not a use
          (a model whose parameters require grad records one in every forward); a
          backward pass is.

        What this cannot see (hooks of the student's own pushed over ours, a thread
        or a forked process running the backward pass, the watch itself replaced) is
        what the static read of the source (:mod:`grader.integrity`) and the checks
        between probes (:func:`integrity_changes`) report to the instructor.
        """
        import torch

        self.measured.add("autograd")
        trusted = _trusted_autograd()
        used: list[str] = []
        backward, grad, functional_backward = torch.Tensor.backward, torch.autograd.grad, torch.autograd.backward
        depth = [0]          # Tensor.backward calls torch.autograd.backward: record the outer call only
        engine_reads = [0]

        def spy(name, fn):
            def call(*a, **k):
                if depth[0] == 0:
                    used.append(name)
                depth[0] += 1
                try:
                    return fn(*a, **k)
                finally:
                    depth[0] -= 1
            return call

        def pack(t):
            # Hooks turn off autograd's own check for tensors changed in place after
            # they were saved; keep it, so a student's in-place bug still raises.
            return t, t._version

        def unpack(packed):
            t, version = packed
            engine_reads[0] += 1
            if t._version != version:
                raise RuntimeError("one of the variables needed for gradient computation has been modified by an "
                                   f"inplace operation: a tensor of shape {tuple(t.shape)} is at version "
                                   f"{t._version}; expected version {version} instead.")
            return t

        torch.Tensor.backward = spy("Tensor.backward()", backward)
        torch.autograd.grad = spy("torch.autograd.grad()", grad)
        torch.autograd.backward = spy("torch.autograd.backward()", functional_backward)
        # The C functions themselves, taken before the student's module was imported:
        # patching torch.autograd.graph or the modules table afterwards changes nothing here.
        trusted["push"](pack, unpack)
        try:
            yield used
        finally:
            trusted["pop"]()
            torch.Tensor.backward, torch.autograd.grad, torch.autograd.backward = backward, grad, functional_backward
            if engine_reads[0] and not used:
                used.append("a backward pass run by the autograd engine (not through Tensor.backward or "
                            "torch.autograd.grad: an alias or a direct engine call)")

    def watch_optimizers(self) -> "OptimizerWatch":
        """Record, inside the block, every torch.optim optimizer built (class and lr)
        and every zero_grad call (an optimizer's or a module's): for hints such as
        "your Adam was built with the wrong lr" or "gradients never zeroed"."""
        self.measured.add("optimizers")
        return OptimizerWatch()


class OptimizerWatch:
    """The context manager behind :meth:`ProbeContext.watch_optimizers`."""

    def __init__(self) -> None:
        self.made: list[dict] = []
        self.zero_grad_calls = 0

    def __enter__(self) -> "OptimizerWatch":
        import torch

        self._saved = (torch.optim.Optimizer.__init__, torch.optim.Optimizer.zero_grad, torch.nn.Module.zero_grad)
        init, opt_zero, module_zero = self._saved

        def spy_init(opt, params, defaults, *a, **k):
            lr = defaults.get("lr") if isinstance(defaults, dict) else None
            try:
                lr = float(lr)
            except (TypeError, ValueError):
                lr = None
            self.made.append({"type": type(opt).__name__, "lr": lr})
            return init(opt, params, defaults, *a, **k)

        def spy_opt_zero(opt, *a, **k):
            self.zero_grad_calls += 1
            return opt_zero(opt, *a, **k)

        def spy_module_zero(module, *a, **k):
            self.zero_grad_calls += 1
            return module_zero(module, *a, **k)

        torch.optim.Optimizer.__init__ = spy_init
        torch.optim.Optimizer.zero_grad = spy_opt_zero
        torch.nn.Module.zero_grad = spy_module_zero
        return self

    def __exit__(self, *exc) -> bool:
        import torch

        torch.optim.Optimizer.__init__, torch.optim.Optimizer.zero_grad, torch.nn.Module.zero_grad = self._saved
        return False


_TRUSTED: dict[str, Any] = {}


def _trusted_autograd() -> dict[str, Any]:
    """torch's C hooks for saved tensors, as they were before student code ran
    (:func:`_load` takes them first; a lab without torch takes them on first use)."""
    if not _TRUSTED:
        import torch

        _TRUSTED.update(push=torch._C._autograd._push_saved_tensors_default_hooks,
                        pop=torch._C._autograd._pop_saved_tensors_default_hooks)
    return _TRUSTED


def _torch_dtype(name: Any):
    import torch

    if isinstance(name, torch.dtype):
        return name
    return getattr(torch, str(name).replace("torch.", ""))


def to_plain(value: Any, depth: int = 0) -> Any:
    """Convert what student code returned into plain data the codec can carry.

    Tensors become ``{"__tensor__": array, "dtype", "device", "requires_grad"}`` so
    that judges can check dtype and device as well as values. Objects we do not
    understand become ``{"__object__": type name}``: the judge then says what was
    returned instead of crashing.
    """
    if depth > 20:
        return {"__object__": "deeply nested value"}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        try:
            with torch._C.DisableTorchFunction():  # subclasses cannot intercept the copy
                t = torch.Tensor.detach(value).to("cpu")
                device = value.device.type
                dtype = str(value.dtype).replace("torch.", "")
                requires_grad = bool(value.requires_grad)
                if t.dtype in (torch.bfloat16,):
                    t = t.to(torch.float32)
                if t.is_complex():
                    return {"__object__": f"complex tensor ({dtype})"}
                arr = t.numpy().copy()
        except Exception as exc:  # a tensor we cannot read (meta, sparse, ...)
            return {"__object__": f"unreadable tensor ({type(exc).__name__})"}
        return {"__tensor__": arr, "dtype": dtype, "device": device, "requires_grad": requires_grad}
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.kind in "cUSV":
            return {"__object__": f"numpy array of dtype {value.dtype}"}
        return np.array(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value[:_MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in list(value)[:100_000]]
    if isinstance(value, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in list(value.items())[:10_000]}
    return {"__object__": type(value).__name__}


def _error(exc: BaseException, student_file: str | None) -> dict:
    """Describe an exception, pointing at the student's own frames."""
    frames = []
    tb = exc.__traceback__
    for fs in traceback.extract_tb(tb):
        if student_file and os.path.abspath(fs.filename) == student_file:
            frames.append({"function": fs.name, "line": fs.lineno, "code": (fs.line or "")[:200]})
    if isinstance(exc, SyntaxError) and student_file and exc.filename and \
            os.path.abspath(exc.filename) == student_file:
        frames.append({"function": "<module>", "line": exc.lineno or 0, "code": (exc.text or "").strip()[:200]})
    message = str(exc)
    if isinstance(exc, SyntaxError):
        message = exc.msg
    return {
        "type": type(exc).__name__,
        "message": message[:_MAX_TEXT],
        "frames": frames[-5:],
        "not_implemented": isinstance(exc, NotImplementedError),
        "probe_error": isinstance(exc, ProbeError),
    }


class _State:
    def __init__(self) -> None:
        self.student: types.ModuleType | None = None
        self.student_file: str | None = None
        self.probes: types.ModuleType | None = None
        self.helpers: types.ModuleType | None = None
        self.calls: CallTracker | None = None
        self.watch: IntegrityWatch | None = None


class IntegrityWatch:
    """Notices, between probes, what student code changed that it has no business
    changing: the harness's and the probes' own functions, torch's, NumPy's and the
    builtins' attributes, the modules table, tracing hooks, threads and processes
    left running. Each change is a flag ``{"kind", "evidence"}`` for the instructor,
    and the grader fails the checks whose measurements such a change can fake.

    All of it runs in the student's process, so it is evidence, not proof: code
    that undoes its change before the end of a probe is not seen here (the static
    read of the source, :mod:`grader.integrity`, is the other half).
    """

    NAMESPACES = ("torch", "torch.Tensor", "torch.autograd", "torch.autograd.graph", "torch.autograd.variable",
                  "torch.nn.functional", "torch.nn.Module", "numpy", "numpy.random", "numpy.linalg", "builtins",
                  "grader.harness", "grader.harness.ProbeContext", "grader.harness.OptimizerWatch",
                  "grader.harness.CallTracker", "grader.codec", "grader.sandbox.child", "grader.sandbox.frames",
                  "_assignment_probes")

    def __init__(self) -> None:
        self.baseline: dict[str, dict[str, Any]] = {}
        self.modules: dict[str, Any] = {}
        self.threads: set[int] = set()
        self.snapshot()

    @staticmethod
    def _resolve(path: str) -> Any:
        """The object at a dotted path: the longest prefix that is an imported module, then attributes."""
        parts = path.split(".")
        for i in range(len(parts), 0, -1):
            obj = sys.modules.get(".".join(parts[:i]))
            if obj is not None:
                for attr in parts[i:]:
                    obj = getattr(obj, attr, None)
                return obj
        return None

    def snapshot(self) -> None:
        import threading

        self.baseline = {}
        for path in self.NAMESPACES:
            obj = self._resolve(path)
            if obj is not None:
                with contextlib.suppress(TypeError):
                    self.baseline[path] = (obj, dict(vars(obj)))
        self.modules = {n: sys.modules.get(n) for n in
                        ("torch", "torch.autograd", "torch.autograd.graph", "numpy", "builtins", "grader.harness",
                         "grader.codec", "_assignment_probes")}
        self.threads = {t.ident for t in threading.enumerate()}
        self.meta_path = list(sys.meta_path)

    def changes(self, when: str) -> list[dict]:
        """What changed since the last snapshot (then a new snapshot is taken)."""
        import threading

        flags: list[dict] = []
        for path, (obj, before) in self.baseline.items():
            try:
                now = vars(obj)
            except TypeError:
                continue
            replaced = sorted(k for k, v in before.items() if k in now and now[k] is not v and not k.startswith("__"))
            removed = sorted(k for k in before if k not in now)
            for k in replaced[:10]:
                flags.append({"kind": "patch", "evidence": f"{path}.{k} was replaced {when}"})
            for k in removed[:10]:
                flags.append({"kind": "patch", "evidence": f"{path}.{k} was deleted {when}"})
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                flags.append({"kind": "modules", "evidence": f"sys.modules[{name!r}] was replaced {when}"})
        if sys.meta_path != self.meta_path:
            flags.append({"kind": "modules", "evidence": f"an import hook was added to sys.meta_path {when}"})
        if sys.gettrace() is not None or sys.getprofile() is not None:
            flags.append({"kind": "trace", "evidence": f"a trace or profile function (sys.settrace/setprofile) "
                                                      f"was left set {when}"})
        alive = [t for t in threading.enumerate() if t.ident not in self.threads and t.is_alive()
                 and t.name != "bpg-output-pump"]
        if alive:
            names = ", ".join(sorted(t.name for t in alive)[:5])
            flags.append({"kind": "thread", "evidence": f"{len(alive)} thread(s) left running {when} ({names})"})
        kids = _child_processes()
        if kids:
            flags.append({"kind": "process", "evidence": f"{len(kids)} child process(es) left running {when}"})
        self.snapshot()
        return flags


def _child_processes() -> list[int]:
    """Processes this one started that are still alive (Linux: /proc/self/task/*/children)."""
    kids: list[int] = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                kids += [int(p) for p in f.read().split()]
    except OSError:
        return []
    return kids


RUNNING_FILE = ".bpg-running"   # in the child's working folder: which graded functions are executing


class CallTracker:
    """Keeps, in a small file the grader reads after killing a child that ran out of
    time, the stack of graded student functions executing right now. A child that
    is killed cannot answer; the file says which function did not return.

    The file is memory-mapped so that a call costs no system call. Student code
    can overwrite it: that only changes which of its own functions the grader calls
    again later (each call still has its timeout).
    """

    SIZE = 4096

    def __init__(self, workdir: Path):
        import mmap

        self.stack: list[str] = []
        fd = os.open(workdir / RUNNING_FILE, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
        try:
            # Written out, not ftruncate'd: a sparse file's pages are allocated on first
            # touch, and a scratch the student's code filled would then kill the child
            # (SIGBUS) on its first tracked call. Made before the student's module runs.
            os.write(fd, bytes(self.SIZE))
            self._map = mmap.mmap(fd, self.SIZE)
        finally:
            os.close(fd)

    def _write(self) -> None:
        data = "\n".join(self.stack).encode()[: self.SIZE - 1]
        try:
            self._map[: len(data) + 1] = data + b"\0"
        except (ValueError, TypeError):  # unmapped or resized by student code: the grader falls back
            pass

    def wrap(self, name: str, fn):
        import functools

        @functools.wraps(fn)
        def tracked(*args, **kwargs):
            self.stack.append(name)
            self._write()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.stack and self.stack[-1] == name:
                    self.stack.pop()
                self._write()

        return tracked

    def track(self, module: types.ModuleType, names: list[str]) -> None:
        """Route the module's graded plain functions (its own, not imported ones)
        through :meth:`wrap`: calls between them go through the module's globals,
        so nested calls are on the stack too. Classes are left as they are."""
        for name in names:
            fn = getattr(module, name, None)
            if isinstance(fn, types.FunctionType) and fn.__module__ == module.__name__:
                setattr(module, name, self.wrap(name, fn))


def read_running(workdir: Path) -> list[str]:
    """The grader's side of :class:`CallTracker`: the stack the child left (outermost first)."""
    try:
        raw = (Path(workdir) / RUNNING_FILE).read_bytes()[: CallTracker.SIZE]
    except OSError:
        return []
    return [n for n in raw.split(b"\0", 1)[0].decode("utf-8", errors="replace").split("\n") if n]


@contextlib.contextmanager
def _capture_printed(limit: int = 8000):
    """What the student's code prints during one request (stdout and stderr, file
    descriptor level), through a pipe: a pump thread keeps the first ``limit`` bytes
    for the request and passes everything on to the real output, so the grader's
    capture of the whole run stays complete, in order and capped where it always was.
    The request's own share lets reports show a public check's output and withhold a
    hidden one's. ``limit`` stays under the grader's bound on one string in a reply
    (``codec.DecodeLimits.string_chars``): more would make the whole reply unreadable."""
    import threading

    sink: list[str] = []
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        r, w = os.pipe()
        saved = (os.dup(1), os.dup(2))
    except OSError:  # out of descriptors: leave the output where it goes
        yield sink
        return
    kept = bytearray()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(r, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            if len(kept) < limit:
                kept.extend(chunk[: limit - len(kept)])
            view = memoryview(chunk)
            while view:
                try:
                    view = view[os.write(saved[0], view):]
                except OSError:
                    break

    thread = threading.Thread(target=pump, name="bpg-output-pump", daemon=True)
    thread.start()
    os.dup2(w, 1)
    os.dup2(w, 2)
    os.close(w)
    try:
        yield sink
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)   # the pipe's last writers go: the pump reads to the end
        os.dup2(saved[1], 2)
        thread.join(timeout=2)  # a process the student started may still hold the pipe
        for fd in saved:
            os.close(fd)
        text = bytes(kept).decode("utf-8", errors="replace")
        sink.append(text + "\n[... more output during this check is in the run's whole output]\n"
                    if len(kept) >= limit else text)


def _import_file(name: str, path: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so pickling and `import two_layer_net` inside probes work
    spec.loader.exec_module(module)
    return module


def _load(state: _State, req: dict) -> dict:
    if req.get("helpers"):
        state.helpers = _import_file(req["helpers_module"], req["helpers"])
    state.probes = _import_file("_assignment_probes", req["probes"])
    state.student_file = os.path.abspath(req["path"])
    state.watch = IntegrityWatch()
    if "torch" in sys.modules:
        _trusted_autograd()
    state.calls = CallTracker(Path.cwd())  # before student code can fill the scratch folder
    try:
        state.student = _import_file(req["module"], req["path"])
    except SystemExit as exc:
        return {"ok": False, "error": {"type": "SystemExit", "message": f"exit({exc.code!r}) called while importing",
                                       "frames": _error(exc, state.student_file)["frames"],
                                       "not_implemented": False, "probe_error": False}}
    except BaseException as exc:
        return {"ok": False, "error": _error(exc, state.student_file)}
    defined = sorted(n for n in vars(state.student) if not n.startswith("_"))
    integrity = state.watch.changes("while the module was imported")
    state.calls.track(state.student, list(req.get("names", [])))
    state.watch.snapshot()  # our own wrappers are not the student's doing
    return {"ok": True, "defined": defined, "integrity": integrity,
            "missing": [n for n in req.get("names", []) if not hasattr(state.student, n)]}


def _make_inputs(state: _State, fn: str, args: dict) -> Any:
    return getattr(state.probes, fn)(state.helpers, **args)


def _run(state: _State, req: dict) -> dict:
    if state.student is None or state.probes is None:
        return {"ok": False, "error": {"type": "RuntimeError", "message": "module not loaded", "frames": [],
                                       "not_implemented": False, "probe_error": True}}
    ctx = ProbeContext(device=req.get("device", "cpu"), options=req.get("options", {}),
                       helpers=state.helpers, workdir=Path.cwd())
    try:
        inputs = req.get("inputs")
        if req.get("make_inputs"):
            inputs = _make_inputs(state, req["make_inputs"], req.get("inputs_args", {}))
        _seed(req.get("seed", 0))
        value = getattr(state.probes, req["probe"])(state.student, inputs, ctx)
        return {"ok": True, "value": to_plain(value), "measured": sorted(ctx.measured)}
    except SystemExit as exc:
        err = _error(exc, state.student_file)
        err["message"] = f"exit({exc.code!r}) called"
        return {"ok": False, "error": err}
    except BaseException as exc:
        return {"ok": False, "error": _error(exc, state.student_file)}


def _seed(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def _env() -> dict:
    torch = sys.modules.get("torch")
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    if torch is not None:
        out.update(torch=torch.__version__, cuda=bool(torch.cuda.is_available()))
    return out


def handle(request: bytes, context: dict) -> bytes:
    state = context.setdefault("_state", _State())
    if "torch" in sys.modules and not context.get("_threads_set"):
        sys.modules["torch"].set_num_threads(1)
        context["_threads_set"] = True
    try:
        req = decode(request)
        op = req["op"]
        if op in ("load", "run"):
            with _capture_printed() as printed:
                reply = _load(state, req) if op == "load" else _run(state, req)
            reply["printed"] = printed[0] if printed else ""
            if op == "run" and state.watch is not None:
                reply["integrity"] = state.watch.changes(f"during check {req.get('check') or req.get('probe')}")
        elif op == "make_inputs":
            _seed(req.get("seed", 0))
            reply = {"ok": True, "value": to_plain(_make_inputs(state, req["fn"], req.get("args", {})))}
        elif op == "env":
            reply = {"ok": True, "value": _env()}
        else:
            reply = {"ok": False, "error": {"type": "ValueError", "message": f"unknown op {op!r}", "frames": [],
                                            "not_implemented": False, "probe_error": True}}
        reply["seq"] = req.get("seq")  # a frame that student code wrote itself answers out of turn
        return encode(reply)
    except BaseException as exc:  # the reply itself could not be built
        return encode({"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)[:_MAX_TEXT],
                                              "frames": [], "not_implemented": False, "probe_error": True}})
