# SPDX-License-Identifier: Apache-2.0
"""moetune: mark the MoE structure of a PyTorch job for moetune (docs/PYTORCH.md).

    import moetune
    for n, batch in enumerate(loader):
        with moetune.step(n, tokens=batch.numel()):
            ...
            with moetune.phase("dispatch"):
                ...
            moetune.route(layer, counts)   # counts: tokens per expert (a tensor), no host sync
    moetune.flush()                        # at the end: routes still in flight

Each call speaks both languages at once: an NVTX range or mark (torch.cuda.nvtx, the
text of docs/CONVENTIONS-NVTX.md) for `moetune record`, and, while torch.profiler is
recording, a record_function range with the same text ("moe:" prefix) that the Kineto
importer decodes. route() never waits for the GPU: the counts are copied asynchronously
into pinned host memory behind a CUDA event and the mark is emitted at a later step
boundary once the event has completed, naming its step ("moe.route layer=L step=S ...").
Set MOETUNE_DISABLE=1 to turn every call into a no-op.
"""
from ._marks import flush, pending, phase, placement, route, step

__all__ = ["step", "route", "phase", "placement", "flush", "pending"]
__version__ = "0.1.0"
