"""Submissions that launder autograd or forge what the child measures, for
two_layer_net's `no_autograd` check: each computes its gradients with autograd and
hides it a different way. Used by tests/test_integrity.py (and by the measurement
in the grades-core note). Each entry: name -> (module-level code, the backward step)."""
from __future__ import annotations

import re

AUTOGRAD_FB = '''
def nn_forward_backward(params, X, y=None, reg=0.0):
    scores, _ = nn_forward_pass(params, X)
    if y is None:
        return scores
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    s, _ = nn_forward_pass(p, X)
    loss = torch.nn.functional.cross_entropy(s, y) + reg * ((p['W1'] ** 2).sum() + (p['W2'] ** 2).sum())
__BACKWARD__
    return loss.detach(), {k: p[k].grad.detach() for k in p}

'''

LAUNDERING = {
    # Not laundered: the spy on Tensor.backward has always caught it.
    "plain_backward": ("", "loss.backward()"),
    "alias_at_import": ("_bw = torch.Tensor.backward", "_bw(loss)"),
    "functional_backward": ("", "torch.autograd.backward(loss)"),
    "engine_direct": ("", "torch.autograd.Variable._execution_engine.run_backward((loss,), (torch.ones_like(loss),), "
                          "False, False, (), allow_unreachable=True, accumulate_grad=True)"),
    "replace_watch": ("import contextlib\nimport grader.harness as _h\n"
                      "_h.ProbeContext.watch_autograd = lambda self: contextlib.nullcontext([])", "loss.backward()"),
    "wrap_probe": ("import sys\n_P = sys.modules['_assignment_probes']\n_orig = _P.autograd_use\n"
                   "def _clean(student, inputs, ctx):\n    out = _orig(student, inputs, ctx)\n    out['used'] = []\n"
                   "    return out\n_P.autograd_use = _clean", "loss.backward()"),
    "forked_helper": ("import io\nimport os", '''r, w = os.pipe()
pid = os.fork()
if pid == 0:
    loss.backward()
    buf = io.BytesIO()
    torch.save({k: p[k].grad for k in p}, buf)
    os.write(w, buf.getvalue())
    os._exit(0)
os.close(w)
data = b''
while True:
    chunk = os.read(r, 1 << 16)
    if not chunk:
        break
    data += chunk
os.close(r)
os.waitpid(pid, 0)
return loss.detach(), torch.load(io.BytesIO(data))'''),
    # A thread started at import undoes the watch's patch whenever one is made.
    "thread_patches_later": ('''import threading
import time
_ORIG = torch.Tensor.backward
def _undo():
    while True:
        if torch.Tensor.backward is not _ORIG:
            torch.Tensor.backward = _ORIG
        time.sleep(0.0005)
threading.Thread(target=_undo, daemon=True).start()''', "time.sleep(0.05)\nloss.backward()"),
    # The original backward kept from an earlier check (forward passes run unwatched).
    "state_between_checks": ("_SAVED = {}", "_SAVED.setdefault('bw', torch.Tensor.backward)\n_SAVED['bw'](loss)"),
    "patch_harness": ('''import grader.harness as _h
_tp = _h.to_plain
def _scrub(v, depth=0):
    if isinstance(v, dict) and 'used' in v:
        v = dict(v, used=[])
    return _tp(v, depth)
_h.to_plain = _scrub''', "loss.backward()"),
    "patch_numpy_torch": ('''import numpy as np
_rng = np.random.default_rng
np.random.default_rng = lambda *a, **k: _rng(0)
_bw = torch.Tensor.backward
torch.manual_seed = lambda seed: None''', "_bw(loss)"),
    # A reply frame written on the grader's pipe, found through the harness's frames.
    "fake_reply_frame": ("import sys", '''loss.backward()
grads = {k: p[k].grad.detach() for k in p}
f = sys._getframe()
names = {}
while f is not None:
    names[f.f_code.co_name] = f
    f = f.f_back
if 'autograd_use' in names and 'serve' in names:
    from grader.codec import encode
    from grader.harness import to_plain
    from grader.sandbox.frames import write_frame
    req = names['handle'].f_locals['req']
    forged = {"ok": True, "value": to_plain({"used": [], "out": (loss.detach(), grads)}), "seq": req.get("seq")}
    write_frame(names['serve'].f_locals['rep_fd'], encode(forged))
return loss.detach(), grads'''),
    "sys_modules_trick": ('''import contextlib
import sys
import types
_fake = types.ModuleType('torch.autograd.graph')
_fake.saved_tensors_hooks = lambda *a: contextlib.nullcontext()
sys.modules['torch.autograd.graph'] = _fake
_bw = torch.Tensor.backward''', "_bw(loss)"),
    # Hooks of its own pushed over the watch's, then an alias.
    "own_saved_tensor_hooks": ("_bw = torch.Tensor.backward", '''with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
    _bw(loss)'''),
    # Saved-tensor hooks are per thread: the backward pass runs in another one.
    "backward_in_thread": ("import threading\n_bw = torch.Tensor.backward", '''th = threading.Thread(target=_bw, args=(loss,))
th.start()
th.join()'''),
}


def laundering_source(solution: str, name: str) -> str:
    """The solution with nn_forward_backward replaced by the laundering version."""
    pre, backward = LAUNDERING[name]
    body = "\n".join("    " + line for line in backward.splitlines())
    replaced = AUTOGRAD_FB.replace("__BACKWARD__", body)
    if name == "forked_helper" or name == "fake_reply_frame":  # they return themselves
        replaced = replaced.replace("    return loss.detach(), {k: p[k].grad.detach() for k in p}\n", "")
    start = solution.index("def nn_forward_backward(")
    end = solution.index("def sample_batch(")
    source = solution[:start] + replaced.lstrip("\n") + "\n" + solution[end:]
    # module-level code after the imports
    anchor = re.search(r"^Params = .*$", source, flags=re.M)
    return source[:anchor.end()] + "\n" + pre + "\n" + source[anchor.end():] if pre else source
