"""The one map over the items of a dataset job: in-process by default, on Ray when asked.

Every job of gshell that repeats one computation over many items (MMGP samples, wings, the meshes
of a folder) runs through :func:`map_items`:

- ``workers=0`` (the default): in this process, one item after the other; Ray is not imported.
- ``workers=N`` (N >= 1): a local Ray instance with N CPUs is started for the job and shut down
  after it (or, when this process already called ``ray.init``, that instance is used as it is).
- ``address="auto"`` or ``"ray://host:10001"`` or ``"host:6379"``: the job joins an existing Ray
  cluster; ``workers``, if given, then caps the items in flight (default: the cluster's CPUs).
  Its nodes need gshell installed; the driver (this process) writes every output, so only it
  needs the output folder.

Ray is an optional dependency (``pip install "gshell-mesh[scale]"``); asking for workers
without it raises :class:`RayNotInstalledError`.

What every job gets from it:

- Determinism: an item's result may depend only on the item and on ``(job seed, item index)``
  (draw from :func:`item_rng` or seed torch with :func:`item_seed`), so the outputs are the same,
  byte for byte, for 0, 1, 2 or 8 workers and whatever order the items finish in.
- Outputs written as they finish: ``write(path, result)`` runs on the driver for each finished
  item and must write atomically (:mod:`gshell._atomic`, :func:`gshell.io.save_mesh`); a
  rerun skips the items whose output exists (``skip_existing``).
- Faults: an item that raises is recorded (index, name, error, message, traceback) in the
  job's ``failures.jsonl`` and in the :class:`Summary`, and the other items complete; a worker
  process that dies is replaced and its item retried by Ray (``retries``); Ctrl-C stops the job
  and leaves only whole files (the writes are atomic).
- One tqdm progress bar on stderr for the whole job, and a :class:`Summary` at the end.

Example:
    >>> from gshell.parallel import map_items, item_rng
    >>> def square(i):
    ...     return i * i + item_rng(0, i).uniform()
    >>> s = map_items(square, range(4), keep_results=True, progress=False)
    >>> s.done, len(s.results)
    (4, 4)
"""
import dataclasses
import json
import numbers
import os
import pickle
import sys
import time
import traceback

import numpy as np

__all__ = ["map_items", "item_seed", "item_rng", "Summary", "RayNotInstalledError", "require_ray",
           "progress_bar", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "gshell-mesh[scale]" (or: pip install ray)'


class RayNotInstalledError(ImportError):
    """Workers or a cluster address were asked for but Ray is not installed."""


# ------------------------------------------------------------------------------------ seeds

def _check_seed_part(name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError("Expected %s to be an int but got %s" % (name, type(v).__name__))
    if v < 0:
        raise ValueError("Expected %s >= 0 but got %d" % (name, v))
    return int(v)


def _seed_sequence(job_seed, index, stream):
    parts = [_check_seed_part("job_seed", job_seed), _check_seed_part("index", index)]
    parts += [_check_seed_part("stream[%d]" % k, s) for k, s in enumerate(stream)]
    return np.random.SeedSequence(parts)


def item_seed(job_seed, index, *stream):
    """The seed of item ``index`` of a job seeded ``job_seed``: a function of the two only.

    Derived by ``numpy.random.SeedSequence([job_seed, index, *stream])``, so neighbouring items
    get unrelated seeds. For ``torch.Generator().manual_seed(...)`` and other libraries that take
    an integer.

    Args:
        job_seed: int >= 0, the job's seed.
        index: int >= 0, the item's index in the job.
        *stream: more ints >= 0 to draw independent seeds for one item (e.g. one per family).
    Returns:
        int in [0, 2**63).
    Raises:
        TypeError, ValueError: a part that is not an int >= 0.

    Example:
        >>> item_seed(0, 1) == item_seed(0, 1) != item_seed(0, 2)
        True
    """
    state = _seed_sequence(job_seed, index, stream).generate_state(1, np.uint64)[0]
    return int(state) >> 1


def item_rng(job_seed, index, *stream):
    """A ``numpy.random.Generator`` for item ``index`` of a job seeded ``job_seed``.

    The same as ``numpy.random.default_rng([job_seed, index, *stream])`` (the MMGP plate ``i``
    of seed ``s`` draws from ``item_rng(s, i)``).

    Args:
        job_seed: int >= 0. index: int >= 0. *stream: more ints >= 0.
    Returns:
        numpy.random.Generator (PCG64).
    """
    return np.random.default_rng(_seed_sequence(job_seed, index, stream))


# ---------------------------------------------------------------------------------- summary

@dataclasses.dataclass
class Summary:
    """What a :func:`map_items` job did.

    Attributes:
        desc: str, the job's name.
        total: int, number of items.
        done: int, items computed (and written) by this run.
        skipped: int, items whose output existed (or ``read`` loaded).
        failed: int, items that raised (or whose worker died more than ``retries`` times).
        wall_s: float, seconds from the call to the end of the job.
        workers: int, 0 for in-process; else the CPUs of the Ray instance the job ran on.
        failures: list of dict (``index``, ``name`` (the output file name or None), ``item`` (a
            str or number as is, else its repr, cut at 200 characters), ``error`` (the
            exception's type name), ``message``, ``traceback``), sorted by index.
        failures_file: str or None, where the failures were written (None when none failed
            or no output folder was given).
        results: None, or (with ``keep_results``) the list of results in item order, None for a
            failed item (and for a skipped one without ``read``).
    """
    desc: str
    total: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    wall_s: float = 0.0
    workers: int = 0
    failures: list = dataclasses.field(default_factory=list)
    failures_file: str = None
    results: list = dataclasses.field(default=None, repr=False)
    _errors: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def items_per_s(self):
        """float: items computed per second of wall time (0 when nothing was computed)."""
        return self.done / self.wall_s if self.done and self.wall_s > 0 else 0.0

    def as_dict(self):
        """The summary as a JSON-ready dict (without the results), with ``items_per_s``."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
             if f.name not in ("results", "_errors")}
        d["items_per_s"] = self.items_per_s
        return d

    def __str__(self):
        how = "in-process" if self.workers == 0 else "%d workers" % self.workers
        line = "%s: %d items: %d done, %d skipped, %d failed in %.1f s (%.3g items/s, %s)" % (
            self.desc, self.total, self.done, self.skipped, self.failed, self.wall_s,
            self.items_per_s, how)
        if self.failures_file:
            line += "; failures in %s" % self.failures_file
        return line

    def raise_failures(self):
        """Raises the error of the first failed item (by index), if any failed.

        The original exception is re-raised where it could be carried back from the worker (with
        a note naming how many failed and the failures file), otherwise a RuntimeError.
        """
        if not self.failed:
            return
        first = self.failures[0]
        note = "%d of %d items of %s failed (first: item %d, %s)%s" % (
            self.failed, self.total, self.desc, first["index"], first["name"] or first["item"],
            "; see %s" % self.failures_file if self.failures_file else "")
        exc = self._errors.get(first["index"])
        if exc is None:
            raise RuntimeError("%s: %s: %s" % (note, first["error"], first["message"]))
        if hasattr(exc, "add_note"):
            exc.add_note(note)
        raise exc


# --------------------------------------------------------------------------------- checks

def _check_workers(workers):
    if workers is None:
        return 0
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral):
        raise TypeError("Expected workers to be an int >= 0 or None but got %s" % type(workers).__name__)
    if workers < 0:
        raise ValueError("Expected workers to be an int >= 0 or None but got %d" % workers)
    return int(workers)


def _check_names(names, n, out_dir):
    if out_dir is None:
        if names is not None:
            raise ValueError("Expected names only with out_dir but got names and out_dir=None")
        return None
    if names is None:
        raise ValueError("Expected names (one output file name per item) with out_dir but got None")
    names = list(names)
    if len(names) != n:
        raise ValueError("Expected names to hold one file name per item (%d) but got %d" % (n, len(names)))
    for k, name in enumerate(names):
        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or (
                os.sep in name) or (os.altsep and os.altsep in name):
            raise ValueError("Expected names[%d] to be a file name (no folder) but got %r" % (k, name))
    if len(set(names)) != n:
        dup = next(name for k, name in enumerate(names) if name in names[:k])
        raise ValueError("Expected names to be unique but %r is repeated" % dup)
    return names


def _check_args(fn, items, out_dir, names, write, read, workers, address, retries, desc):
    if not callable(fn):
        raise TypeError("Expected fn to be callable but got %s" % type(fn).__name__)
    try:
        items = list(items)
    except TypeError:
        raise TypeError("Expected items to be an iterable but got %s" % type(items).__name__) from None
    if out_dir is not None and not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError("Expected out_dir to be a folder path or None but got %s" % type(out_dir).__name__)
    names = _check_names(names, len(items), out_dir)
    if out_dir is not None and not callable(write):
        raise TypeError("Expected write to be callable (path, result) with out_dir but got %s"
                        % type(write).__name__)
    if read is not None and not callable(read):
        raise TypeError("Expected read to be callable (path) -> result or None but got %s"
                        % type(read).__name__)
    workers = _check_workers(workers)
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ValueError("Expected address to be a Ray cluster address ('auto', 'host:port', "
                         "'ray://host:port') or None but got %r" % (address,))
    if isinstance(retries, bool) or not isinstance(retries, numbers.Integral) or retries < 0:
        raise ValueError("Expected retries to be an int >= 0 but got %r" % (retries,))
    if not isinstance(desc, str):
        raise TypeError("Expected desc to be a str but got %s" % type(desc).__name__)
    return items, names, workers


# ---------------------------------------------------------------------------------- helpers

def require_ray():
    """Imports Ray for a job with workers or a cluster address.

    Returns:
        the ``ray`` module.
    Raises:
        RayNotInstalledError: Ray cannot be imported; the message says how to install it.
    """
    try:
        import ray
    except ImportError as e:
        raise RayNotInstalledError("Ray is needed for workers >= 1 or a cluster address but it cannot "
                                   "be imported (%s): %s" % (e, INSTALL_HINT)) from None
    return ray


def progress_bar(total, desc, enabled=True, initial=0, unit="item", terminal_only=False):
    """The tqdm bar of gshell's long loops: on stderr, redrawn at most 5 times a second on a
    terminal; elsewhere (a log, a pipe) drawn at the start, every 30 s and at the end.

    Args:
        total: int, number of steps. desc: str, the label. enabled: bool, False for none
        (``--quiet``). initial: int, steps already done. unit: str, what a step is.
        terminal_only: draw nothing when stderr is not a terminal (a loop whose own log says
        enough, as :func:`gshell.recon.reconstruct`).
    Returns:
        tqdm.tqdm (disabled when ``enabled`` is False).
    """
    from tqdm import tqdm

    tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr,
                disable=not enabled or (terminal_only and not tty), dynamic_ncols=True,
                mininterval=0.2 if tty else 30.0, leave=True)


def _describe_error(exc, tb):
    return {"error": type(exc).__name__, "message": str(exc), "traceback": tb}


def _run_item(fn, item):
    """Runs ``fn(item)`` and catches its error: (True, result) or (False, (info, exception or
    None)). On a Ray worker this is the task."""
    try:
        return True, fn(item)
    except Exception as e:  # recorded by the driver; the other items go on
        info = _describe_error(e, traceback.format_exc())
        try:
            pickle.loads(pickle.dumps(e))
        except Exception:
            e = None
        return False, (info, e)


def _write_failures(path, failures):
    from gshell._atomic import write_bytes

    lines = [json.dumps(f, sort_keys=False) + "\n" for f in sorted(failures, key=lambda f: f["index"])]
    write_bytes(path, [line.encode("utf-8") for line in lines])


class _Job:
    """The driver's bookkeeping of one :func:`map_items` call: outputs, failures, the bar."""

    def __init__(self, summary, items, out_dir, names, write, keep_results, failures_file, bar):
        self.s, self.items, self.out_dir, self.names, self.write = summary, items, out_dir, names, write
        self.keep, self.failures_file, self.bar = keep_results, failures_file, bar

    def name(self, i):
        return self.names[i] if self.names is not None else None

    def item(self, i):
        item = self.items[i]
        if isinstance(item, (str, bool, int, float)) or item is None:
            return item
        if isinstance(item, os.PathLike):
            return os.fspath(item)
        text = repr(item)
        return text if len(text) <= 200 else text[:197] + "..."

    def finish(self, i, ok, payload):
        """Writes item ``i``'s result (on success) or records its failure."""
        if ok:
            try:
                if self.out_dir is not None:
                    self.write(os.path.join(self.out_dir, self.names[i]), payload)
            except Exception as e:  # a result that cannot be written is a failure of the item
                ok, payload = False, (_describe_error(e, traceback.format_exc()), e)
        if ok:
            self.s.done += 1
            if self.keep:
                self.s.results[i] = payload
        else:
            info, exc = payload
            self.s.failed += 1
            self.s.failures.append(dict({"index": i, "name": self.name(i), "item": self.item(i)}, **info))
            if exc is not None:
                self.s._errors[i] = exc
            if self.failures_file is not None:
                _write_failures(self.failures_file, self.s.failures)
        self.bar.update(1)
        if self.s.failed:
            self.bar.set_postfix(failed=self.s.failed, refresh=False)

    def fail(self, i, exc):
        """Records a failure the task itself could not report (its worker died, ...)."""
        self.finish(i, False, (_describe_error(exc, "".join(traceback.format_exception_only(
            type(exc), exc))), None))


def _connect(ray, workers, address):
    """ray.init for the job. Returns (started: bool, cpus: int)."""
    import logging

    if ray.is_initialized():
        started = False
    else:
        kw = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                  configure_logging=True)
        if address is not None:
            ray.init(address=address, **kw)
        else:
            ray.init(address="local", num_cpus=workers, **kw)
        started = True
    cpus = int(ray.cluster_resources().get("CPU", workers or 1))
    return started, max(cpus, 1)


def _map_ray(job, fn, items, todo, workers, address, retries, in_flight):
    ray = require_ray()
    started, cpus = _connect(ray, workers, address)
    capped = address is not None and workers > 0          # a cluster, at most `workers` items at once
    job.s.workers = min(cpus, workers) if capped else cpus
    pending = {}
    try:
        task = ray.remote(num_cpus=1, max_retries=retries, retry_exceptions=False)(_run_item)
        fn_ref = ray.put(fn)
        window = in_flight or (workers if capped else 2 * cpus)
        queue = iter(todo)
        while True:
            for i in queue:
                pending[task.remote(fn_ref, items[i])] = i
                if len(pending) >= window:
                    break
            if not pending:
                break
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    ok, payload = ray.get(ref)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as e:  # the worker died more than `retries` times, ...
                    job.fail(i, e)
                    continue
                job.finish(i, ok, payload)
    except BaseException:  # Ctrl-C: stop the items in flight (nothing of theirs is written)
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        raise
    finally:
        if started:
            ray.shutdown()


# ------------------------------------------------------------------------------------- map

def map_items(fn, items, *, out_dir=None, names=None, write=None, read=None, keep_results=False,
              skip_existing=True, workers=0, address=None, retries=3, in_flight=None,
              desc="items", progress=True, failures_file=None):
    """Maps ``fn`` over ``items``, in this process or on Ray, writing each result as it finishes.

    Args:
        fn: callable ``fn(item) -> result``; with workers it must be picklable (a module-level
            function or a ``functools.partial`` of one; cloudpickle also takes closures), and so
            must the items and results. Its result must depend only on the item (and on the
            job seed and item index through :func:`item_rng` / :func:`item_seed`).
        items: iterable of the items (kept as a list; its order gives the indices).
        out_dir: None (results are only returned) or the output folder (created if missing, see
            :func:`gshell._atomic.make_folder`).
        names: with ``out_dir``: one output file name per item (unique, no folder part).
        write: with ``out_dir``: ``write(path, result)``, called on the driver when an item
            finishes; it must write ``path`` atomically (a temporary file renamed over it).
        read: None or ``read(path) -> result``: loads the result of a skipped item (with
            ``keep_results``); if it raises, the item is computed again.
        keep_results: return the results (``Summary.results``), in item order.
        skip_existing: skip the items whose output file exists (a rerun resumes); False
            recomputes them all.
        workers: int >= 0 or None. 0 or None: in this process, serial, Ray not imported. N >= 1:
            a local Ray instance with N CPUs for the job (with ``address``: at most N items in
            flight).
        address: None or the address of a Ray cluster to join (``"auto"``, ``"host:6379"``,
            ``"ray://host:10001"``).
        retries: int >= 0, times Ray reruns an item whose worker process died (an exception
            raised by ``fn`` is not retried: it is recorded).
        in_flight: None or int >= 1, items submitted to Ray ahead of the results (default: twice
            Ray's CPUs, or ``workers`` with ``address``); bounds the driver's memory.
        desc: str, the job's name for the bar and the summary.
        progress: bool, show the progress bar on stderr.
        failures_file: path of the failures' JSON lines (default: ``out_dir/failures.jsonl``;
            none without ``out_dir``); rewritten after each failure, removed when a run has
            none.
    Returns:
        Summary: counts, wall time, failures and (``keep_results``) the results.
    Raises:
        TypeError, ValueError: invalid arguments.
        RayNotInstalledError: ``workers >= 1`` or ``address`` given and Ray not installed.
        KeyboardInterrupt: the job was interrupted (the outputs written so far are whole).

    Example:
        >>> from gshell._atomic import write_bytes
        >>> s = map_items(str.upper, ["a", "b"], out_dir="out", names=["a.txt", "b.txt"],
        ...               write=lambda p, r: write_bytes(p, [r.encode()]))   # doctest: +SKIP
        >>> print(s)                                                        # doctest: +SKIP
        items: 2 items: 2 done, 0 skipped, 0 failed in 0.0 s (1.2e+03 items/s, in-process)
    """
    t0 = time.perf_counter()
    items, names, workers = _check_args(fn, items, out_dir, names, write, read, workers, address,
                                        retries, desc)
    if in_flight is not None and (isinstance(in_flight, bool) or not isinstance(in_flight, numbers.Integral)
                                  or in_flight < 1):
        raise ValueError("Expected in_flight to be None or an int >= 1 but got %r" % (in_flight,))
    if workers or address is not None:
        require_ray()        # fail before anything is written
    n = len(items)
    s = Summary(desc=desc, total=n, results=[None] * n if keep_results else None)
    if out_dir is not None:
        from gshell._atomic import make_folder

        out_dir = os.fspath(out_dir)
        make_folder(out_dir)
        if failures_file is None:
            failures_file = os.path.join(out_dir, "failures.jsonl")
    todo = []
    for i in range(n):
        path = os.path.join(out_dir, names[i]) if out_dir is not None else None
        if skip_existing and path is not None and os.path.exists(path):
            if read is None or not keep_results:
                s.skipped += 1
                continue
            try:
                s.results[i] = read(path)
                s.skipped += 1
                continue
            except Exception:  # a corrupt or foreign file: computed again, and replaced
                pass
        todo.append(i)
    bar = progress_bar(n, desc, enabled=progress and bool(todo), initial=s.skipped)
    job = _Job(s, items, out_dir, names, write, keep_results,
               None if failures_file is None else os.fspath(failures_file), bar)
    try:
        if todo and (workers or address is not None):
            _map_ray(job, fn, items, todo, workers, address, retries, in_flight)
        else:
            for i in todo:
                ok, payload = _run_item(fn, items[i])
                job.finish(i, ok, payload)
    finally:
        bar.close()
    s.failures.sort(key=lambda f: f["index"])
    if job.failures_file is not None:
        if s.failed:
            s.failures_file = job.failures_file
        elif os.path.exists(job.failures_file):
            os.remove(job.failures_file)    # an earlier run's failures: they all went through now
    s.wall_s = time.perf_counter() - t0
    return s
