# SPDX-License-Identifier: Apache-2.0
"""Step / phase ranges and routing marks (see the package docstring)."""
import contextlib
import os
import threading

PHASES = ("gate", "dispatch", "experts", "combine", "allreduce")

_lock = threading.Lock()
_pending = []        # [(step, layer, host tensor or list, ready())], in issue order
_pool = {}           # (numel, dtype) -> free pinned host buffers
_current = [None]    # the step being run (route() without step=)
_defer_cpu = False   # tests: send CPU counts through the deferred path too


def _disabled():
    return os.environ.get("MOETUNE_DISABLE", "") not in ("", "0")


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


def _nvtx_ok(torch):
    try:
        return torch is not None and torch.cuda.is_available()
    except Exception:
        return False


def _profiling(torch):
    try:
        return bool(torch.autograd._profiler_enabled())  # torch.profiler (Kineto) or the legacy one
    except Exception:
        return True  # cannot tell: record_function is cheap when nothing records


class _Range:
    """One range: NVTX push/pop (live collector) + record_function (torch.profiler)."""

    def __init__(self, text):
        self.text, self.rf, self.nvtx = text, None, False

    def __enter__(self):
        torch = _torch()
        if _nvtx_ok(torch):
            torch.cuda.nvtx.range_push(self.text)
            self.nvtx = True
        if torch is not None and _profiling(torch):
            self.rf = torch.autograd.profiler.record_function(self.text)
            self.rf.__enter__()
        return self

    def __exit__(self, *exc):
        if self.rf is not None:
            self.rf.__exit__(None, None, None)
        if self.nvtx:
            _torch().cuda.nvtx.range_pop()
        return False


def _mark(text):
    torch = _torch()
    if _nvtx_ok(torch):
        torch.cuda.nvtx.mark(text)
    if torch is not None and _profiling(torch):
        with torch.autograd.profiler.record_function(text):  # a zero-length range
            pass


def _emit_ready(wait=False):
    """Emits, in order, the routes whose counts have reached the host."""
    with _lock:
        while _pending:
            s, layer, host, ready = _pending[0]
            if not ready():
                if not wait:
                    return
                ready.wait()
            _pending.pop(0)
            values = host.tolist() if hasattr(host, "tolist") else list(host)
            prefix = f"moe.route layer={int(layer)}"
            if s is not None:
                prefix += f" step={int(s)}"
            _mark(prefix + " tokens=" + ",".join(str(int(v)) for v in values))
            if hasattr(host, "is_pinned") and getattr(ready, "pooled", False):
                _pool.setdefault((host.numel(), host.dtype), []).append(host)


class _Event:
    """ready(): the CUDA event has completed (query, never a wait); wait(): at flush."""

    def __init__(self, torch):
        self.ev = torch.cuda.Event()
        self.ev.record()
        self.pooled = True

    def __call__(self):
        return self.ev.query()

    def wait(self):
        self.ev.synchronize()


class _Now:
    pooled = False

    def __call__(self):
        return True

    def wait(self):
        pass


class _AfterPolls:  # tests only: ready after n polls (stands in for a late GPU)
    pooled = False

    def __init__(self, n):
        self.n = n

    def __call__(self):
        self.n -= 1
        return self.n < 0

    def wait(self):
        self.n = -1


@contextlib.contextmanager
def step(n, tokens=None):
    """The range of training/inference step n ("moe:step n tokens=T"). Routes whose
    counts have landed are emitted at its start and end (no waiting)."""
    if _disabled():
        yield
        return
    _emit_ready()
    text = f"moe:step {int(n)}" + ("" if tokens is None else f" tokens={int(tokens)}")
    prev, _current[0] = _current[0], int(n)
    try:
        with _Range(text):
            yield
    finally:
        _current[0] = prev
        _emit_ready()


@contextlib.contextmanager
def phase(name):
    """A phase range of the MoE layer: gate, dispatch, experts, combine or allreduce."""
    if name not in PHASES:
        raise ValueError(f"moetune.phase: {name!r} is not one of {', '.join(PHASES)}")
    if _disabled():
        yield
        return
    with _Range("moe:" + name):
        yield


def route(layer, counts, step=None):
    """Tokens this rank sent to each expert of `layer` in the current step (or `step`).
    counts: a 1-D tensor (any device) or a sequence of ints. A CUDA tensor is copied
    asynchronously into pinned memory behind a CUDA event; no host sync happens here."""
    if _disabled():
        return
    s = _current[0] if step is None else int(step)
    torch = _torch()
    is_tensor = torch is not None and isinstance(counts, torch.Tensor)
    if is_tensor and counts.is_cuda:
        flat = counts.detach().reshape(-1)
        key = (flat.numel(), flat.dtype)
        with _lock:
            free = _pool.get(key)
            host = free.pop() if free else torch.empty(key[0], dtype=key[1], pin_memory=True)
        host.copy_(flat, non_blocking=True)
        ready = _Event(torch)
    else:
        host = counts.detach().reshape(-1).cpu() if is_tensor else [int(v) for v in counts]
        ready = _AfterPolls(1) if _defer_cpu else _Now()
    with _lock:
        _pending.append((s, layer, host, ready))
    if isinstance(ready, _Now):
        _emit_ready()


def placement(layer, experts_to_ranks):
    """Where each expert of `layer` lives: {expert: [rank, replica ranks...]} or a list
    indexed by expert ("moe.placement layer=L map=E:R|R2,...")."""
    if _disabled():
        return
    items = experts_to_ranks.items() if hasattr(experts_to_ranks, "items") else enumerate(experts_to_ranks)
    parts = []
    for e, ranks in sorted(items):
        ranks = [ranks] if isinstance(ranks, int) else list(ranks)
        parts.append(f"{int(e)}:" + "|".join(str(int(r)) for r in ranks))
    _mark(f"moe.placement layer={int(layer)} map=" + ",".join(parts))


def flush(wait=True):
    """Emits the routes still in flight; wait=True (end of run) waits for their copies."""
    if not _disabled():
        _emit_ready(wait=wait)


def pending():
    """How many routes wait for their counts to reach the host."""
    with _lock:
        return len(_pending)
