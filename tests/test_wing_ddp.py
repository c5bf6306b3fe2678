"""Data-parallel training of the wing Cp model (gshell.wing.train_cp_model under torchrun): two
CPU ranks (gloo) give the weights, losses and validation of one process with the same global
batch and seed, an uneven (and an empty) shard included; only rank 0 prints."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gshell._distributed import ONE, World, launched, shard
from gshell.wing.train import train_cp_model
from tests.test_wing_model import dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# run by every rank: train each configuration, save the weights and history per rank
WORKER = r"""
import json, sys
import numpy as np, torch
import torch.distributed as dist
from gshell.wing.train import train_cp_model

data_path, config_path, out_dir = sys.argv[1:4]
with np.load(data_path) as f:
    data = {k: f[k] for k in f.files}
with open(config_path) as f:
    configs = json.load(f)
out = {}
for name, kw in configs.items():
    model, hist = train_cp_model(data, **kw)
    out[name] = {"state": model.state_dict(), "hist": hist}
assert dist.is_initialized() and dist.get_world_size() == 2
torch.save(out, "%s/rank%d.pt" % (out_dir, dist.get_rank()))
"""

COMMON = dict(points_per_sample=32, width=16, heads=2, lr=3e-3, seed=3)
CONFIGS = {
    # 8 samples in global batches of 4: 2 + 2 per rank, 2 steps an epoch, validated every epoch
    "even": dict(COMMON, use_features=False, epochs=3, batch_size=4, train_idx=list(range(8)),
                 val_idx=[12, 13, 14, 15, 16], val_every=1, progress=True),
    # 7 samples in global batches of 3 (3, 3, 1): shards of 2 and 1, then 1 and an empty one;
    # 3 validation samples: shards of 2 and 1
    "uneven": dict(COMMON, use_features=True, epochs=2, batch_size=3,
                   train_idx=[0, 2, 3, 5, 6, 8, 9], val_idx=[18, 20, 21], val_every=1),
}


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _torchrun(args, cwd, timeout=300):
    """Runs ``python -m torch.distributed.run --standalone --nproc_per_node 2 ARGS`` (a free
    port from the standalone rendezvous); returns the completed process."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run(cmd + list(args), cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def small():
    return dataset(n_wings=8, n_cond=3, nu=6, nv=24, seed=1)


@pytest.fixture(scope="module")
def ranks(small, tmp_path_factory):
    """The two ranks' results of CONFIGS under torchrun, and its stdout."""
    tmp = tmp_path_factory.mktemp("ddp")
    np.savez(tmp / "data.npz", **small)
    (tmp / "configs.json").write_text(json.dumps(CONFIGS))
    (tmp / "worker.py").write_text(WORKER)
    proc = _torchrun([str(tmp / "worker.py"), str(tmp / "data.npz"), str(tmp / "configs.json"),
                      str(tmp)], cwd=str(tmp))
    return [torch.load(tmp / ("rank%d.pt" % r)) for r in (0, 1)], proc.stdout


def test_shards_partition_every_global_batch():
    for n in range(0, 12):
        for size in (1, 2, 3, 5):
            rows = [shard(n, World(r, size, r)) for r in range(size)]
            got = [i for s in rows for i in range(n)[s]]
            assert got == list(range(n))  # disjoint, in order, covering the batch
            lens = [len(range(n)[s]) for s in rows]
            assert max(lens) - min(lens) <= 1
    assert shard(7, ONE) == slice(0, 7)
    assert not launched()  # the test process itself is not part of a run


def test_one_process_calls_no_torch_distributed(small, monkeypatch):
    import torch.distributed as dist

    def refuse(*args, **kwargs):
        raise AssertionError("torch.distributed called in one process")

    for name in ("init_process_group", "all_reduce", "broadcast", "get_rank", "get_world_size"):
        monkeypatch.setattr(dist, name, refuse)
    _, hist = train_cp_model(small, **dict(CONFIGS["uneven"], epochs=1))
    assert hist["world_size"] == 1


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_two_ranks_train_the_one_process_model(small, ranks, name):
    (r0, r1), _ = ranks
    kw = CONFIGS[name]
    model, hist = train_cp_model(small, **dict(kw, progress=False))
    assert hist["world_size"] == 1 and r0[name]["hist"]["world_size"] == 2
    ref = model.state_dict()
    for key, value in ref.items():
        # both ranks hold the same weights ...
        torch.testing.assert_close(r1[name]["state"][key], r0[name]["state"][key], rtol=0, atol=0)
        got = r0[name]["state"][key]
        if key == "attn.kv.bias":
            # The key half of this bias adds the same logit to every neighbour of a query: the
            # softmax cancels it, its gradient is exactly 0 but for rounding, and Adam scales
            # that noise up to steps of ~lr. It differs between two one-process runs with
            # another thread count too, and changes no prediction (checked below).
            got, value = got[COMMON["width"]:], value[COMMON["width"]:]
        # ... which are those of one process with the same global batch
        torch.testing.assert_close(got, value, rtol=1e-5, atol=1e-6, msg=key)
    from gshell.wing.train import predict

    twin = type(model)(kw["use_features"], width=COMMON["width"], heads=COMMON["heads"])
    twin.load_state_dict(r0[name]["state"])
    idx = torch.arange(len(small["wing"]))
    torch.testing.assert_close(predict(twin, small, idx), predict(model, small, idx),
                               rtol=1e-5, atol=1e-5)
    h = r0[name]["hist"]
    # the logged loss is the global batch's (a rank summing the whole batch would double it)
    np.testing.assert_allclose(h["train_loss"], hist["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(h["val_mse"], hist["val_mse"], rtol=1e-5)
    assert h["val_epochs"] == hist["val_epochs"] and h["best_epoch"] == hist["best_epoch"]
    assert r1[name]["hist"]["val_mse"] == h["val_mse"]  # every rank picks the same epoch
    assert h["train_idx"] == hist["train_idx"] and h["val_idx"] == hist["val_idx"]


def test_training_moved_the_weights_and_only_rank_0_prints(small, ranks):
    (r0, _), out = ranks
    init = train_cp_model(small, **dict(CONFIGS["even"], progress=False, epochs=1, lr=1e-12,
                                        val_idx=None, val_fraction=0))[0].state_dict()
    # a test that the weights agree means something only when training changed them
    assert (r0["even"]["state"]["head.3.weight"] - init["head.3.weight"]).abs().max() > 1e-3
    for e in (1, 2, 3):
        assert out.count("epoch %d/3" % e) == 1, out


def test_cli_wing_train_under_torchrun(small, tmp_path):
    """``torchrun --nproc_per_node 2 -m gshell wing train``: rank 0 alone prints and writes, and
    the test errors are those of one process."""
    from gshell.wing.train import compare

    np.savez(tmp_path / "wings.npz", **small)
    proc = _torchrun(["-m", "gshell", "wing", "train", "wings.npz", "--seeds", "0", "--epochs",
                      "2", "--out", "run"], cwd=str(tmp_path))
    out = proc.stdout
    assert out.count("| seed | test MSE without features") == 1, out
    assert out.count("seed 0 with features: test MSE") == 1, out
    with open(tmp_path / "run" / "metrics.json") as f:
        m = json.load(f)
    assert (tmp_path / "run" / "wing_cp.png").stat().st_size > 1000
    (row,) = m["runs"]
    ref = compare(small, seeds=[0], test_fraction=0.2, epochs=2)["runs"][0]
    for key in ("mse_without", "mse_with", "val_mse_without", "val_mse_with"):
        np.testing.assert_allclose(row[key], ref[key], rtol=1e-4, err_msg=key)
