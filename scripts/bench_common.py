"""Timing shared by the benchmark scripts: median of repeats after one warm-up run."""
import statistics
import time

import torch


def timeit(fn, device, repeats, budget_ms=None):
    """Median time of ``fn()`` in ms over ``repeats`` runs after a warm-up (CUDA events on cuda);
    with ``budget_ms``, stops after two runs once that much time is spent (slow baselines)."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        if budget_ms is not None and sum(times) > budget_ms and len(times) >= 2:
            break
    return statistics.median(times)
