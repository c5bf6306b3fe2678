"""gshell.parallel: the map over a job's items, in-process and on a local Ray with 2 CPUs: same
bytes, resume after an interruption, a killed worker retried, a failing item recorded, the
missing-Ray error, argument checks."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from gshell._atomic import write_bytes
from gshell.parallel import RayNotInstalledError, Summary, item_rng, item_seed, map_items

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 8


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance with 2 CPUs for the module (map_items uses an initialised Ray)."""
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])   # workers need not import tests
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)   # a new instance, never a cluster running on the machine
    yield ray
    ray.shutdown()


def draw(i):
    """A random item: its bytes depend only on (job seed 7, index i); late items finish first."""
    time.sleep(0.02 * (N - i) / N)
    return item_rng(7, i).standard_normal(5 + i).tobytes()


def put(path, data):
    write_bytes(path, [data])


def names(n=N):
    return ["item%02d.bin" % i for i in range(n)]


def folder_bytes(folder):
    return {f: open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder))}


class Fails:
    """Raises ``exc`` at item ``at`` (pickled to the workers with the job's fn)."""

    def __init__(self, at, exc):
        self.at, self.exc = at, exc

    def __call__(self, i):
        if i == self.at:
            raise self.exc
        return draw(i)


class DiesOnce:
    """Kills its worker process the first time it meets item ``at`` (a marker file says so)."""

    def __init__(self, at, marker):
        self.at, self.marker = at, marker

    def __call__(self, i):
        if i == self.at and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)
        return draw(i)


# ------------------------------------------------------------------------------------- seeds
def test_item_seed_and_rng_depend_only_on_job_seed_and_index():
    assert item_seed(0, 1) == item_seed(0, 1)
    seeds = {item_seed(s, i) for s in range(3) for i in range(50)}
    assert len(seeds) == 150 and all(0 <= x < 2 ** 63 for x in seeds)
    assert item_seed(0, 1, 1) != item_seed(0, 1)
    # item_rng is numpy's default_rng([seed, index, *stream]), the MMGP samples' generator
    np.testing.assert_array_equal(item_rng(3, 4).random(4), np.random.default_rng([3, 4]).random(4))
    np.testing.assert_array_equal(item_rng(3, 4, 2).random(4), np.random.default_rng([3, 4, 2]).random(4))
    assert not np.array_equal(item_rng(3, 4).random(4), item_rng(3, 5).random(4))
    with pytest.raises(ValueError, match="index"):
        item_seed(0, -1)
    with pytest.raises(TypeError, match="job_seed"):
        item_rng(1.5, 0)


# ---------------------------------------------------------------------------------- serial
def test_serial_writes_each_item_and_returns_a_summary(tmp_path):
    out = tmp_path / "out"
    s = map_items(draw, range(N), out_dir=out, names=names(), write=put, keep_results=True,
                  progress=False, desc="draws")
    assert isinstance(s, Summary)
    assert (s.total, s.done, s.skipped, s.failed, s.workers) == (N, N, 0, 0, 0)
    assert [r for r in s.results] == [draw(i) for i in range(N)]
    assert folder_bytes(out) == {n: draw(i) for i, n in enumerate(names())}   # no temp files
    assert s.wall_s > 0 and s.items_per_s == pytest.approx(N / s.wall_s)
    assert str(s).startswith("draws: 8 items: 8 done, 0 skipped, 0 failed in ")
    assert json.loads(json.dumps(s.as_dict()))["done"] == N
    # without an output folder: results only
    s = map_items(lambda x: x * x, [3, 1, 2], keep_results=True, progress=False)
    assert s.results == [9, 1, 4] and s.failures_file is None


def test_serial_does_not_import_ray(tmp_path):
    code = ("import sys; from gshell.parallel import map_items; "
            "s = map_items(abs, [-1, 2], workers=None, keep_results=True, progress=False); "
            "s2 = map_items(abs, [-3], workers=0, keep_results=True, progress=False); "
            "print(s.results, s2.results, 'ray' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[1,", "2]", "[3]", "False"]


def test_resume_after_an_interruption_gives_the_same_bytes(tmp_path):
    ref = tmp_path / "ref"
    map_items(draw, range(N), out_dir=ref, names=names(), write=put, progress=False)
    out = tmp_path / "out"
    k = 3
    with pytest.raises(KeyboardInterrupt):
        map_items(Fails(k, KeyboardInterrupt()), range(N), out_dir=out, names=names(), write=put,
                  progress=False)
    assert sorted(os.listdir(out)) == names()[:k]           # whole files only, nothing partial
    s = map_items(draw, range(N), out_dir=out, names=names(), write=put, progress=False)
    assert (s.skipped, s.done, s.failed) == (k, N - k, 0)
    assert folder_bytes(out) == folder_bytes(ref)
    s = map_items(draw, range(N), out_dir=out, names=names(), write=put, progress=False)
    assert (s.skipped, s.done) == (N, 0)
    s = map_items(draw, range(N), out_dir=out, names=names(), write=put, progress=False,
                  skip_existing=False)
    assert (s.skipped, s.done) == (0, N)


def test_an_interrupted_write_leaves_no_partial_file(tmp_path):
    def slow_write(path, data):
        def write(tmp):
            with open(tmp, "wb") as fh:
                fh.write(data[:3])
                if path.endswith("item02.bin"):
                    raise KeyboardInterrupt           # Ctrl-C in the middle of a write
                fh.write(data[3:])
        from gshell._atomic import write_atomic
        write_atomic(path, write)

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        map_items(draw, range(N), out_dir=out, names=names(), write=slow_write, progress=False)
    assert sorted(os.listdir(out)) == names()[:2]
    assert folder_bytes(out) == {n: draw(i) for i, n in enumerate(names()[:2])}


def test_a_failing_item_is_recorded_and_the_others_complete(tmp_path):
    out = tmp_path / "out"
    s = map_items(Fails(2, ValueError("corrupt item 2")), range(N), out_dir=out, names=names(),
                  write=put, progress=False)
    assert (s.done, s.failed) == (N - 1, 1)
    assert s.failures_file == os.path.join(str(out), "failures.jsonl")
    lines = [json.loads(x) for x in open(s.failures_file)]
    assert len(lines) == 1 and lines[0] == s.failures[0]
    f = lines[0]
    assert (f["index"], f["name"], f["item"], f["error"], f["message"]) == (
        2, "item02.bin", 2, "ValueError", "corrupt item 2")
    assert "Traceback" in f["traceback"] and "corrupt item 2" in f["traceback"]
    assert "item02.bin" not in os.listdir(out) and len(os.listdir(out)) == N   # N-1 + failures
    with pytest.raises(ValueError, match="corrupt item 2"):
        s.raise_failures()
    # the rerun computes only the failed item; its failures file goes
    s = map_items(draw, range(N), out_dir=out, names=names(), write=put, progress=False)
    assert (s.skipped, s.done, s.failed) == (N - 1, 1, 0)
    assert not os.path.exists(os.path.join(str(out), "failures.jsonl"))
    s.raise_failures()   # nothing failed: no error


def test_a_corrupt_output_is_recomputed_when_read_fails(tmp_path):
    out = tmp_path / "out"
    map_items(draw, range(3), out_dir=out, names=names(3), write=put, progress=False)
    (out / "item01.bin").write_bytes(b"xx")

    def read(path):
        data = open(path, "rb").read()
        if len(data) % 8:
            raise ValueError("not float64s")
        return data

    s = map_items(draw, range(3), out_dir=out, names=names(3), write=put, read=read,
                  keep_results=True, progress=False)
    assert (s.skipped, s.done) == (2, 1)
    assert s.results == [draw(i) for i in range(3)] and (out / "item01.bin").read_bytes() == draw(1)


# -------------------------------------------------------------------------------------- Ray
def test_workers_give_the_bytes_of_the_serial_run(tmp_path, ray_local):
    serial = tmp_path / "serial"
    map_items(draw, range(N), out_dir=serial, names=names(), write=put, progress=False)
    for workers, in_flight in ((1, None), (2, None), (2, 1), (8, None)):
        out = tmp_path / ("w%d_%s" % (workers, in_flight))
        s = map_items(draw, range(N), out_dir=out, names=names(), write=put, workers=workers,
                      in_flight=in_flight, keep_results=True, progress=False)
        assert (s.done, s.failed) == (N, 0) and s.workers >= 1
        assert folder_bytes(out) == folder_bytes(serial), (workers, in_flight)
        assert s.results == [draw(i) for i in range(N)]


def test_a_killed_worker_is_retried_and_every_item_written_once(tmp_path, ray_local):
    marker = str(tmp_path / "killed")
    seen = []

    def write(path, data):
        seen.append(os.path.basename(path))
        put(path, data)

    out = tmp_path / "out"
    s = map_items(DiesOnce(3, marker), range(N), out_dir=out, names=names(), write=write, workers=2,
                  retries=2, progress=False)
    assert os.path.exists(marker)                       # the worker did die on item 3
    assert (s.done, s.failed) == (N, 0), s.failures
    assert sorted(seen) == names()                      # each item written exactly once
    assert folder_bytes(out) == {n: draw(i) for i, n in enumerate(names())}


def test_a_worker_dying_every_time_is_a_failure(tmp_path, ray_local):
    class Dies:
        def __call__(self, i):
            if i == 1:
                os._exit(1)
            return draw(i)

    out = tmp_path / "out"
    s = map_items(Dies(), range(4), out_dir=out, names=names(4), write=put, workers=2, retries=0,
                  progress=False)
    assert (s.done, s.failed) == (3, 1) and s.failures[0]["index"] == 1
    assert "item01.bin" not in os.listdir(out)
    with pytest.raises(RuntimeError, match="1 of 4 items"):
        s.raise_failures()


def test_failures_and_interruption_on_workers(tmp_path, ray_local):
    out = tmp_path / "fail"
    s = map_items(Fails(5, KeyError("no field")), range(N), out_dir=out, names=names(), write=put,
                  workers=2, progress=False)
    assert (s.done, s.failed) == (N - 1, 1)
    assert [json.loads(x)["error"] for x in open(s.failures_file)] == ["KeyError"]
    with pytest.raises(KeyError):
        s.raise_failures()
    # Ctrl-C on the driver while items are in flight: only whole files, then a rerun resumes
    out = tmp_path / "stop"
    calls = []

    def write(path, data):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(path)
        put(path, data)

    with pytest.raises(KeyboardInterrupt):
        map_items(draw, range(N), out_dir=out, names=names(), write=write, workers=2, progress=False)
    done = sorted(os.listdir(out))
    assert len(done) == 2 and all(open(os.path.join(out, n), "rb").read() == draw(names().index(n))
                                  for n in done)
    s = map_items(draw, range(N), out_dir=out, names=names(), write=put, workers=2, progress=False)
    assert (s.skipped, s.done) == (2, N - 2)
    assert folder_bytes(out) == {n: draw(i) for i, n in enumerate(names())}


# --------------------------------------------------------------------------- errors, checks
def test_missing_ray_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)       # `import ray` raises ImportError
    for kw in ({"workers": 2}, {"address": "auto"}):
        with pytest.raises(RayNotInstalledError, match=r'pip install "gshell-mesh\[scale\]"'):
            map_items(draw, range(3), out_dir=tmp_path / "out", names=names(3), write=put,
                      progress=False, **kw)
    assert not (tmp_path / "out").exists()               # nothing made before the error
    assert issubclass(RayNotInstalledError, ImportError)
    s = map_items(draw, range(2), workers=0, keep_results=True, progress=False)   # serial: fine
    assert s.done == 2


@pytest.mark.parametrize("kwargs, err, match", [
    ({"workers": -1}, ValueError, "Expected workers to be an int >= 0"),
    ({"workers": 1.5}, TypeError, "Expected workers"),
    ({"workers": True}, TypeError, "Expected workers"),
    ({"address": ""}, ValueError, "Expected address"),
    ({"address": 3}, ValueError, "Expected address"),
    ({"retries": -1}, ValueError, "Expected retries"),
    ({"in_flight": 0}, ValueError, "Expected in_flight"),
    ({"desc": 3}, TypeError, "Expected desc"),
    ({"out_dir": "OUT"}, ValueError, "Expected names"),
    ({"out_dir": "OUT", "names": ["a", "b"]}, TypeError, "Expected write"),
    ({"out_dir": "OUT", "names": ["a"], "write": put}, ValueError, "one file name per item"),
    ({"out_dir": "OUT", "names": ["a", "a"], "write": put}, ValueError, "unique"),
    ({"out_dir": "OUT", "names": ["a", "x/b"], "write": put}, ValueError, r"names\[1\]"),
    ({"names": ["a", "b"]}, ValueError, "names only with out_dir"),
    ({"out_dir": 3, "names": ["a", "b"], "write": put}, TypeError, "Expected out_dir"),
    ({"read": 3}, TypeError, "Expected read"),
])
def test_bad_arguments_name_the_argument(kwargs, err, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(err, match=match):
        map_items(abs, [1, 2], progress=False, **kwargs)
    assert not (tmp_path / "OUT").exists()
    with pytest.raises(TypeError, match="Expected fn to be callable"):
        map_items(3, [1])
    with pytest.raises(TypeError, match="Expected items"):
        map_items(abs, 3)
