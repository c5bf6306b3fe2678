"""gshell.gen.diffusion: the diffusers schedules against plain references of the DDPM and DDIM
papers (tests/reference/ddim.py), DDIM from noise back to a one-point data distribution with the
exact ε-predictor, the EMA, checkpoints (round trip, clear errors, the resolution check),
resumed training equal to a straight run, and two torchrun ranks equal to one process."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers", reason="gshell.gen.diffusion needs diffusers (pip install diffusers)")

from gshell.gen.diffusion import (CHECKPOINT, DEFAULT_SCHEDULER, GridDiffusion,  # noqa: E402
                                  sampling_scheduler, train, training_scheduler)
from tests.reference import ddim as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(base_channels=8, channel_mults=[1, 2], groups=4)


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(res=8, **kw):
    return GridDiffusion(res, 6, model_config=dict(TINY), **kw)


def grids(n, res=8, seed=0):
    """(n, 6, res+1, res+1, res+1) float32 in [-1, 1]: smooth fields, a ±1 mask channel."""
    g = torch.Generator().manual_seed(seed)
    r = res + 1
    u = torch.linspace(-1, 1, r)
    z, y, x = torch.meshgrid(u, u, u, indexing="ij")
    out = []
    for _ in range(n):
        c = torch.rand(3, generator=g) - 0.5
        sdf = ((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2).sqrt() - 0.5
        msdf = y - c[1]
        deform = 0.3 * torch.tanh(torch.randn(3, r, r, r, generator=g))
        mask = torch.where(sdf.abs() < 0.3, 1.0, -1.0)
        out.append(torch.cat([sdf.clamp(-1, 1)[None], msdf.clamp(-1, 1)[None], deform, mask[None]]))
    return torch.stack(out)


class Oracle(torch.nn.Module):
    """The exact ε-predictor of the one-point data distribution x0:
    ε̂(x_t, t) = (x_t - sqrt(ᾱ_t) x0) / sqrt(1 - ᾱ_t)."""

    def __init__(self, x0, alphas_cumprod):
        super().__init__()
        self.register_buffer("x0", x0)
        self.register_buffer("abar", alphas_cumprod.double())

    def forward(self, x, t):
        a = self.abar[t].view(-1, 1, 1, 1, 1)
        return ((x.double() - a.sqrt() * self.x0.double()) / (1 - a).sqrt()).to(x.dtype)


class VOracle(Oracle):
    """The exact v of the same distribution: v = sqrt(ᾱ) ε - sqrt(1 - ᾱ) x0, with ε of
    :class:`Oracle`."""

    def forward(self, x, t):
        a = self.abar[t].view(-1, 1, 1, 1, 1)
        eps = (x.double() - a.sqrt() * self.x0.double()) / (1 - a).sqrt()
        return (a.sqrt() * eps - (1 - a).sqrt() * self.x0.double()).to(x.dtype)


def test_training_schedule_is_linear_1e4_to_002_over_1000_steps():
    s = training_scheduler()
    assert s.config.num_train_timesteps == 1000 and s.config.prediction_type == "epsilon"
    assert s.config.beta_schedule == "linear"
    betas = ref.linear_betas(1e-4, 0.02, 1000)
    np.testing.assert_allclose(s.betas.double().numpy(), betas, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s.alphas_cumprod.double().numpy(), ref.alphas_cumprod(betas), rtol=1e-5)
    d = sampling_scheduler()
    np.testing.assert_array_equal(d.alphas_cumprod.numpy(), s.alphas_cumprod.numpy())  # same config
    d.set_timesteps(50)
    assert d.timesteps.tolist() == list(range(980, -1, -20))
    assert GridDiffusion(4, model_config=dict(TINY)).scheduler_config == DEFAULT_SCHEDULER


@pytest.mark.parametrize("steps", [50, 100, 7])
@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_ddim_update_agrees_with_the_paper(steps, eta):
    sched = sampling_scheduler()
    sched.set_timesteps(steps)
    abar = ref.alphas_cumprod(ref.linear_betas())
    g = torch.Generator().manual_seed(steps)
    ts = sched.timesteps.tolist()
    ratio = 1000 // steps
    for i, t in enumerate(ts):
        x = 3 * torch.randn(2, 6, 3, 3, 3, generator=g)  # big enough for the x0 clamp to act
        eps = torch.randn(2, 6, 3, 3, 3, generator=g)
        z = torch.randn(2, 6, 3, 3, 3, generator=g)
        out = sched.step(eps, t, x, eta=eta, variance_noise=z if eta else None)
        prev = t - ratio
        assert prev == (ts[i + 1] if i + 1 < len(ts) else -ratio)  # steps to the next timestep
        a_prev = abar[prev] if prev >= 0 else 1.0  # set_alpha_to_one: the last step is x0 itself
        want, want_x0 = ref.ddim_step(eps.numpy(), x.numpy(), abar[t], a_prev, eta=eta, z=z.numpy(),
                                      clip=1.0)
        np.testing.assert_allclose(out.pred_original_sample.numpy(), want_x0, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out.prev_sample.numpy(), want, rtol=1e-4, atol=1e-5)
    # without the clamp too (the formula itself): a schedule with clip_sample off
    sched = sampling_scheduler(dict(clip_sample=False))
    sched.set_timesteps(steps)
    t = sched.timesteps.tolist()[0]
    x, eps = torch.randn(2, 6, 3, 3, 3, generator=g), torch.randn(2, 6, 3, 3, 3, generator=g)
    want, _ = ref.ddim_step(eps.numpy(), x.numpy(), abar[t], abar[t - ratio])
    np.testing.assert_allclose(sched.step(eps, t, x).prev_sample.numpy(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("output", ["epsilon", "v"])
@pytest.mark.parametrize("steps", [50, 100])
def test_ddim_from_noise_returns_the_one_point_distribution(steps, output):
    dm = tiny(output=output)
    x0 = 1.8 * torch.rand(dm.shape, generator=torch.Generator().manual_seed(1)) - 0.9
    dm.ema = (Oracle if output == "epsilon" else VOracle)(x0, dm.training_scheduler().alphas_cumprod)
    out = dm.sample(3, steps=steps, generator=torch.Generator().manual_seed(2))
    assert out.shape == (3,) + dm.shape and out.dtype == torch.float32
    torch.testing.assert_close(out, x0.expand_as(out), rtol=0, atol=1e-4)
    # the raw weights (a zero output: ε̂ = 0, or sqrt(1 - ᾱ) x_t for "v") do not do it
    raw = dm.sample(1, steps=steps, generator=torch.Generator().manual_seed(2), ema=False)
    assert (raw[0] - x0).abs().max() > 0.1


def test_v_output_turns_the_exact_v_into_the_exact_noise():
    dm = tiny(output="v")
    g = torch.Generator().manual_seed(4)
    x0, noise = grids(4), torch.randn((4,) + dm.shape, generator=g)
    t = torch.tensor([0, 300, 900, 999])
    xt = dm.training_scheduler().add_noise(x0, noise, t)
    abar = dm.training_scheduler().alphas_cumprod
    for i in range(4):
        dm.model = VOracle(x0[i], abar)
        torch.testing.assert_close(dm.predict_noise(xt[i:i + 1], t[i:i + 1]), noise[i:i + 1],
                                   rtol=0, atol=2e-4)
    # a zero network: ε̂ = sqrt(1 - ᾱ_t) x_t, and the loss is its mean squared error
    dm = tiny(output="v")
    loss = dm.loss(x0, generator=torch.Generator().manual_seed(3))
    t, noise = dm.draw(4, torch.Generator().manual_seed(3))
    xt = dm.training_scheduler().add_noise(x0, noise, t)
    want = ((1 - abar[t]).sqrt().view(-1, 1, 1, 1, 1) * xt - noise).pow(2).mean()
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=0)
    with pytest.raises(ValueError, match="Expected output to be one of 'epsilon', 'v' but got 'x0'"):
        tiny(output="x0")


def test_output_is_saved_checked_on_resume_and_defaults_to_epsilon(tmp_path):
    dm = train(tiny(output="v"), grids(4), tmp_path / "run", steps=1, batch_size=2, progress=False)
    dm.save(tmp_path / "v.pt")
    back = GridDiffusion.load(tmp_path / "v.pt")
    assert back.output == "v" and back.config["output"] == "v"
    torch.testing.assert_close(back.sample(1, steps=3), dm.sample(1, steps=3), rtol=0, atol=0)
    state = torch.load(tmp_path / "v.pt", weights_only=True)
    del state["output"]  # a checkpoint written before the option
    torch.save(state, tmp_path / "old.pt")
    assert GridDiffusion.load(tmp_path / "old.pt").output == "epsilon"
    with pytest.raises(ValueError, match="output differ"):
        train(dict(model_config=dict(TINY), output="epsilon"), grids(4), tmp_path / "run", steps=2,
              batch_size=2, progress=False)


def test_samples_depend_only_on_the_generator():
    dm = tiny()
    with torch.no_grad():  # a nonzero network
        dm.ema.conv_out.weight.normal_(0, 0.1, generator=torch.Generator().manual_seed(0))
    a = dm.sample(3, steps=4, generator=torch.Generator().manual_seed(5))
    b = dm.sample(3, steps=4, generator=5, batch_size=2)
    torch.testing.assert_close(a, b, rtol=0, atol=5e-4)  # rounding, times up to 1/sqrt(ᾱ_980) ~ 125
    c = dm.sample(3, steps=4, generator=6)
    assert (a - c).abs().max() > 0.1
    assert a.abs().max() <= 1.0 + 1e-6  # the predicted x0 is clamped to the data range
    torch.testing.assert_close(dm.sample(1, steps=4), dm.sample(1, steps=4), rtol=0, atol=0)  # seed 0


def test_loss_is_the_mean_squared_noise_error():
    dm = tiny()
    x0 = grids(3)
    g = torch.Generator().manual_seed(3)
    loss = dm.loss(x0, generator=g)
    t, noise = dm.draw(3, torch.Generator().manual_seed(3))
    assert t.min() >= 0 and t.max() < 1000
    # a zero-initialised network predicts ε̂ = 0: the loss is the noise's mean square
    torch.testing.assert_close(loss, noise.pow(2).mean(), rtol=1e-6, atol=0)
    loss.backward()
    assert dm.model.conv_out.weight.grad.abs().sum() > 0


def test_ema_update_warms_up():
    dm = tiny(ema_decay=0.999)
    old = dm.ema.conv_in.weight.clone()
    with torch.no_grad():
        dm.model.conv_in.weight.add_(1.0)
    new = dm.model.conv_in.weight.detach().clone()
    dm.step = 1
    assert dm.update_ema() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    torch.testing.assert_close(dm.ema.conv_in.weight, 0.1 * old + 0.9 * new)
    dm.step = 100000
    assert dm.update_ema() == pytest.approx(0.999)
    assert not any(p.requires_grad for p in dm.ema.parameters())


def test_save_load_round_trip(tmp_path):
    dm = train(tiny(metadata={"scale": [1.0, 2.0]}), grids(4), tmp_path / "run", steps=2,
               batch_size=2, progress=False)
    path = tmp_path / "m.pt"
    dm.save(path)
    back = GridDiffusion.load(path)
    assert back.config == dm.config and back.step == 2
    assert back.metadata["scale"] == [1.0, 2.0] and "loss" in back.metadata
    for a, b in ((dm.model, back.model), (dm.ema, back.ema)):
        for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
            torch.testing.assert_close(w, v, rtol=0, atol=0, msg=k)
    torch.testing.assert_close(back.sample(2, steps=3, generator=1), dm.sample(2, steps=3, generator=1),
                               rtol=0, atol=0)
    # the training checkpoint holds the optimizer state and the training state
    state = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=True)
    assert state["optimizer"]["state"] and state["train"]["batch_size"] == 2 and state["step"] == 2
    assert not [f for f in os.listdir(tmp_path / "run") if f != CHECKPOINT]  # no temporary left


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Expected a GridDiffusion checkpoint file"):
        GridDiffusion.load(tmp_path / "missing.pt")
    dm = tiny()
    dm.save(tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="could not be read"):
        GridDiffusion.load(tmp_path / "cut.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="could not be read"):
        GridDiffusion.load(tmp_path / "text.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="Expected a gshell GridDiffusion checkpoint"):
        GridDiffusion.load(tmp_path / "other.pt")
    state = torch.load(tmp_path / "good.pt", weights_only=True)
    del state["ema"]
    torch.save(state, tmp_path / "noema.pt")
    with pytest.raises(ValueError, match="but ema is missing"):
        GridDiffusion.load(tmp_path / "noema.pt")
    state = torch.load(tmp_path / "good.pt", weights_only=True)
    state["model_config"]["base_channels"] = 16
    torch.save(state, tmp_path / "misfit.pt")
    with pytest.raises(ValueError, match="weights in .* to fit its model_config"):
        GridDiffusion.load(tmp_path / "misfit.pt")
    with pytest.raises(ValueError, match="JSON-serialisable"):
        tiny(metadata={"x": torch.zeros(2)}).save(tmp_path / "meta.pt")


def test_data_of_another_resolution_is_refused(tmp_path):
    tiny(res=8).save(tmp_path / "r8.pt")
    dm = GridDiffusion.load(tmp_path / "r8.pt")
    dm.check_data(grids(2, res=8))
    with pytest.raises(ValueError, match=r"Expected tensors of resolution 8 \(shape \(6, 9, 9, 9\), "
                                         r"the checkpoint's\) but got resolution 16"):
        dm.check_data(grids(2, res=16))
    with pytest.raises(ValueError, match="Expected tensors of 6 channels"):
        dm.check_data(grids(2)[:, :5])
    with pytest.raises(ValueError, match=r"scaled into \[-1, 1\]"):
        dm.check_data(2 * grids(2))
    bad = grids(2)
    bad[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        dm.check_data(bad)
    with pytest.raises(TypeError, match="float tensor"):
        dm.check_data(grids(2).numpy())
    # resuming training on data of another resolution
    train(tiny(res=8), grids(3), tmp_path / "run", steps=1, batch_size=2, progress=False)
    with pytest.raises(ValueError, match="Expected tensors of resolution 8"):
        train(None, grids(3, res=4), tmp_path / "run", steps=2, batch_size=2, progress=False)


def test_train_argument_errors(tmp_path):
    data = grids(3)
    with pytest.raises(ValueError, match="Expected steps"):
        train(tiny(), data, tmp_path, steps=-1)
    with pytest.raises(ValueError, match="Expected batch_size"):
        train(tiny(), data, tmp_path, steps=1, batch_size=0)
    with pytest.raises(ValueError, match="Expected lr"):
        train(tiny(), data, tmp_path, steps=1, lr=0.0)
    with pytest.raises(TypeError, match="Expected diffusion_or_config"):
        train("model", data, tmp_path, steps=1)
    train(tiny(), data, tmp_path / "run", steps=1, batch_size=2, progress=False)
    with pytest.raises(ValueError, match="Expected seed=0, the checkpoint's"):
        train(tiny(), data, tmp_path / "run", steps=2, batch_size=2, seed=1, progress=False)
    with pytest.raises(ValueError, match="model_config differ"):
        train(dict(model_config=dict(TINY, base_channels=4)), data, tmp_path / "run", steps=2,
              batch_size=2, progress=False)


def test_resumed_training_equals_a_straight_run(tmp_path):
    data = grids(5, seed=4)  # batches of 3 from 5 tensors: batches straddle the epochs
    records = []
    straight = train(tiny(), data, tmp_path / "a", steps=6, batch_size=3, lr=1e-3, seed=2,
                     save_every=2, progress=False, log=records.append)
    assert [r["step"] for r in records] == list(range(1, 7))
    assert all(np.isfinite(r["loss"]) and r["loss"] > 0 for r in records)
    half = train(tiny(), data, tmp_path / "b", steps=3, batch_size=3, lr=1e-3, seed=2,
                 save_every=2, progress=False, log=str(tmp_path / "log.jsonl"))
    assert half.step == 3
    resumed = train(tiny(), data, tmp_path / "b", steps=6, batch_size=3, lr=1e-3, seed=2,
                    save_every=2, progress=False, log=str(tmp_path / "log.jsonl"))
    assert resumed.step == 6
    with open(tmp_path / "log.jsonl") as f:
        logged = [json.loads(line) for line in f]
    assert [r["loss"] for r in logged] == [r["loss"] for r in records]  # same batches, same losses
    init = tiny().model.state_dict()
    for name in ("model", "ema"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        for k in a:
            torch.testing.assert_close(b[k], a[k], rtol=0, atol=0, msg=name + "." + k)
    assert (straight.model.state_dict()["conv_out.weight"] - init["conv_out.weight"]).abs().max() > 1e-4
    loaded = GridDiffusion.load(tmp_path / "b" / CHECKPOINT)
    assert loaded.step == 6
    torch.testing.assert_close(loaded.model.state_dict()["conv_in.weight"],
                               straight.model.state_dict()["conv_in.weight"], rtol=0, atol=0)
    # a run at its target already returns the checkpoint's model, unchanged
    again = train(None, data, tmp_path / "b", steps=6, batch_size=3, lr=1e-3, seed=2, progress=False)
    assert again.step == 6


WORKER = r"""
import sys, torch
import torch.distributed as dist
from gshell.gen.diffusion import GridDiffusion, train

data_path, out_dir = sys.argv[1:3]
torch.set_num_threads(1)
data = torch.load(data_path)
log = []
dm = train(GridDiffusion(8, 6, model_config=dict(base_channels=8, channel_mults=[1, 2], groups=4)),
           data, out_dir + "/run", steps=3, batch_size=3, lr=1e-3, seed=1, progress=True,
           log=log.append)
assert dist.is_initialized() and dist.get_world_size() == 2
torch.save({"model": dm.model.state_dict(), "ema": dm.ema.state_dict(), "log": log},
           "%s/rank%d.pt" % (out_dir, dist.get_rank()))
"""


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def test_two_ranks_train_the_one_process_model(tmp_path):
    data = grids(4, seed=7)
    torch.save(data, tmp_path / "data.pt")
    (tmp_path / "worker.py").write_text(WORKER)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(tmp_path / "worker.py"), str(tmp_path / "data.pt"), str(tmp_path)]
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / ("rank%d.pt" % r)) for r in (0, 1))
    logged = []
    one = train(GridDiffusion(8, 6, model_config=dict(TINY)), data, tmp_path / "one", steps=3,
                batch_size=3, lr=1e-3, seed=1, progress=False, log=logged.append)
    init = GridDiffusion(8, 6, model_config=dict(TINY)).model.state_dict()
    # global batches of 3: shards of 2 and 1 rows
    for name in ("model", "ema"):
        ref_state = getattr(one, name).state_dict()
        for k, v in ref_state.items():
            torch.testing.assert_close(r1[name][k], r0[name][k], rtol=0, atol=0)  # ranks agree ...
            # ... and hold the one-process weights but for rounding, which Adam's first steps
            # (updates of about lr * sign(g)) make relative to the update, not to the weight
            step = (v - init[k]).norm()
            assert (r0[name][k] - v).norm() <= 1e-3 * step + 1e-9, (name, k)
            assert (r0[name][k] - v).abs().max() <= 2e-5, (name, k)
    # Adam does not see the scale of the gradient: the loss and the gradient norm do
    assert [r["step"] for r in r0["log"]] == [1, 2, 3] and r1["log"] == []  # rank 0 logs
    for a, b in zip(r0["log"], logged):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
    assert (r0["model"]["conv_out.weight"] - init["conv_out.weight"]).abs().max() > 1e-4
    assert os.listdir(tmp_path / "run") == [CHECKPOINT]  # rank 0 wrote it, and nothing else
    assert GridDiffusion.load(tmp_path / "run" / CHECKPOINT).step == 3
    assert proc.stderr.count("diffusion: 100%") == 1, proc.stderr[-2000:]  # one bar, rank 0's


def test_import_does_not_import_diffusers(monkeypatch):
    code = ("import sys, gshell.gen.diffusion, gshell.nn; "
            "assert 'diffusers' not in sys.modules, 'diffusers imported'")
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), timeout=120)
    monkeypatch.setitem(sys.modules, "diffusers", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install diffusers"):
        training_scheduler()


def test_min_snr_weights_and_weighted_loss():
    """min(SNR, γ) / SNR from the linear schedule computed here in float64 (1 at high noise,
    5 / SNR at t = 0), and the weighted error of a zero-output network against its noise."""
    dm = tiny()
    betas = np.linspace(1e-4, 0.02, 1000)
    abar = np.cumprod(1 - betas)
    snr = abar / (1 - abar)
    t = torch.tensor([0, 3, 40, 200, 999])
    w = dm.snr_weights(t, 5.0)
    # diffusers keeps ᾱ in float32 (what add_noise uses): 1 - ᾱ at t = 0 (1e-4) to ~2e-4 relative
    np.testing.assert_allclose(w.numpy(), np.minimum(snr[t.numpy()], 5.0) / snr[t.numpy()], rtol=1e-3)
    assert w[0] < 1e-3 and float(w[-1]) == 1.0
    x0 = grids(5)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(x0.shape, generator=g)
    got = dm.squared_error(x0, t, noise, snr_gamma=5.0)
    want = (noise.pow(2).flatten(1).sum(1) * w).sum()  # the network is zero-initialised: ε̂ = 0
    torch.testing.assert_close(got, want, rtol=1e-5, atol=0)
    torch.testing.assert_close(dm.squared_error(x0, t, noise), noise.pow(2).sum(), rtol=1e-6, atol=0)


def test_min_snr_training_is_checked_and_resumes_with_its_gamma(tmp_path):
    data = grids(3)
    for bad in (0.0, -1.0, float("nan"), True, "5"):
        with pytest.raises(ValueError, match="Expected snr_gamma"):
            train(tiny(), data, tmp_path / "bad", steps=1, snr_gamma=bad)
    records = []
    train(tiny(), data, tmp_path / "run", steps=1, batch_size=2, snr_gamma=5.0, progress=False,
          log=records.append)
    assert np.isfinite(records[0]["loss"]) and records[0]["loss"] > 0
    with pytest.raises(ValueError, match="Expected snr_gamma=5.0, the checkpoint's"):
        train(tiny(), data, tmp_path / "run", steps=2, batch_size=2, progress=False)
    dm = train(tiny(), data, tmp_path / "run", steps=2, batch_size=2, snr_gamma=5.0, progress=False)
    assert dm.step == 2
