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
        """Record uses of autograd (``Tensor.backward``, ``torch.autograd.grad``) inside the block.

        For "no autograd in this function" checks: the probe reports the list and the
        judge decides. A student could undo the patch; that only hides the use from
        a check whose values are still compared with the reference.
        """
        import torch

        used: list[str] = []
        backward, grad = torch.Tensor.backward, torch.autograd.grad

        def spy_backward(t, *a, **k):
            used.append("Tensor.backward()")
            return backward(t, *a, **k)

        def spy_grad(*a, **k):
            used.append("torch.autograd.grad()")
            return grad(*a, **k)

        torch.Tensor.backward, torch.autograd.grad = spy_backward, spy_grad
        try:
            yield used
        finally:
            torch.Tensor.backward, torch.autograd.grad = backward, grad


    def watch_optimizers(self) -> "OptimizerWatch":
        """Record, inside the block, every torch.optim optimizer built (class and lr)
        and every zero_grad call (an optimizer's or a module's): for hints such as
        "your Adam was built with the wrong lr" or "gradients never zeroed"."""
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
            os.ftruncate(fd, self.SIZE)
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
def _capture_printed(limit: int = 64 * 1024):
    """What the student's code prints during one request, file-descriptor level
    (stdout and stderr). The text is also passed on to the real output, so the
    grader's capture of the whole run stays complete and in order; the request's
    own share lets reports show a public check's output and withhold a hidden one's."""
    sink: list[str] = []
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        raw = tempfile.TemporaryFile(mode="w+b")
        saved = (os.dup(1), os.dup(2))
    except OSError:  # no room for a file: leave the output where it goes
        yield sink
        return
    os.dup2(raw.fileno(), 1)
    os.dup2(raw.fileno(), 2)
    try:
        yield sink
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        raw.seek(0)
        data = raw.read(1 << 20)
        raw.close()
        with contextlib.suppress(OSError):
            os.write(saved[0], data)
        for fd in saved:
            os.close(fd)
        sink.append(data[:limit].decode("utf-8", errors="replace"))


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
    try:
        state.student = _import_file(req["module"], req["path"])
    except SystemExit as exc:
        return {"ok": False, "error": {"type": "SystemExit", "message": f"exit({exc.code!r}) called while importing",
                                       "frames": _error(exc, state.student_file)["frames"],
                                       "not_implemented": False, "probe_error": False}}
    except BaseException as exc:
        return {"ok": False, "error": _error(exc, state.student_file)}
    defined = sorted(n for n in vars(state.student) if not n.startswith("_"))
    state.calls = CallTracker(Path.cwd())
    state.calls.track(state.student, list(req.get("names", [])))
    return {"ok": True, "defined": defined,
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
        return {"ok": True, "value": to_plain(value)}
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
        elif op == "make_inputs":
            _seed(req.get("seed", 0))
            reply = {"ok": True, "value": to_plain(_make_inputs(state, req["fn"], req.get("args", {})))}
        elif op == "env":
            reply = {"ok": True, "value": _env()}
        else:
            reply = {"ok": False, "error": {"type": "ValueError", "message": f"unknown op {op!r}", "frames": [],
                                            "not_implemented": False, "probe_error": True}}
        return encode(reply)
    except BaseException as exc:  # the reply itself could not be built
        return encode({"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)[:_MAX_TEXT],
                                              "frames": [], "not_implemented": False, "probe_error": True}})
