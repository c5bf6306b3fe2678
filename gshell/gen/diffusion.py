"""The diffusion model of G-MeshDiffusion: a DDPM on grid tensors of open shapes.

G-MeshDiffusion ("Ghost on the Shell", Liu et al., ICLR 2024, https://arxiv.org/abs/2310.15168,
after MeshDiffusion, https://arxiv.org/abs/2303.08133) represents each shape as a tensor
(C, R, R, R) on the vertex lattice of a regular grid (R = res + 1): sdf, msdf, three deformation
channels and a mask, every channel scaled into [-1, 1]. A 3D UNet (:class:`gshell.nn.UNet3D`)
learns to predict the noise ε of a DDPM (Ho et al. 2020, https://arxiv.org/abs/2006.11239) and
shapes are drawn with DDIM (Song et al. 2021, https://arxiv.org/abs/2010.02502, η = 0). The noise
estimate is either the UNet's output or, preconditioned (``output="v"``), ``sqrt(1 - ᾱ) x_t +
sqrt(ᾱ) UNet(x_t, t)``, so that at high noise, where ε ≈ x_t, the UNet's errors are scaled down.

The noise schedules are those of the ``diffusers`` library: a ``DDPMScheduler`` for training
(linear betas 1e-4 to 0.02 over 1000 steps, ε-prediction) and a ``DDIMScheduler`` built from its
config for sampling. ``diffusers`` is imported inside the functions that need it
(``pip install diffusers``, or the ``[gen]`` extra); importing this module needs only torch.

Example:
    >>> dm = GridDiffusion(res=16, model_config=dict(base_channels=16, channel_mults=[1, 2]))
    >>> dm = train(dm, data, "runs/gen", steps=20000)          # data: (N, 6, 17, 17, 17)
    >>> grids = dm.sample(16, steps=50, generator=torch.Generator().manual_seed(0))
"""
import copy
import json
import math
import os

import torch

from gshell import _distributed
from gshell.nn.unet3d import UNet3D

__all__ = ["GridDiffusion", "train", "training_scheduler", "sampling_scheduler", "export_model",
           "load_model", "DEFAULT_SCHEDULER", "CHECKPOINT", "MODEL"]

#: The training schedule (keyword arguments of ``diffusers.DDPMScheduler``). ``clip_sample``
#: clamps DDIM's predicted x0 to the data range [-1, 1].
DEFAULT_SCHEDULER = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                         beta_schedule="linear", prediction_type="epsilon", clip_sample=True,
                         clip_sample_range=1.0)
#: The file name of the checkpoint :func:`train` writes in its ``out_dir`` and resumes from.
CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
_FORMAT = "gshell.gen.GridDiffusion"
_VERSION = 1
_KEYS = ("format", "version", "res", "channels", "model_config", "scheduler_config", "ema_decay",
         "step", "model", "ema", "metadata")
_RANGE_TOL = 1e-3
#: What the UNet's output can be (see :class:`GridDiffusion`).
OUTPUTS = ("epsilon", "v")


def _diffusers():
    try:
        import diffusers
    except ImportError as e:
        raise ImportError("gshell.gen.diffusion needs the diffusers library for its noise "
                          "schedules: pip install diffusers (or pip install 'gshell-mesh[gen]')") from e
    return diffusers


def _scheduler_config(config):
    cfg = dict(DEFAULT_SCHEDULER)
    if config is not None:
        if not isinstance(config, dict):
            raise TypeError("Expected scheduler_config to be a dict of DDPMScheduler arguments or "
                            "None but got %r" % type(config).__name__)
        cfg.update(config)
    if cfg["prediction_type"] != "epsilon":
        raise ValueError("Expected scheduler_config['prediction_type'] to be 'epsilon' (the UNet "
                         "predicts the noise) but got %r" % (cfg["prediction_type"],))
    t = cfg["num_train_timesteps"]
    if not isinstance(t, int) or isinstance(t, bool) or t < 1:
        raise ValueError("Expected scheduler_config['num_train_timesteps'] to be an int >= 1 but "
                         "got %r" % (t,))
    return cfg


def training_scheduler(config: dict = None):
    """The training noise schedule.

    Args:
        config: dict of ``diffusers.DDPMScheduler`` arguments overriding :data:`DEFAULT_SCHEDULER`
            (linear betas 1e-4..0.02, 1000 steps, ε-prediction), or None.

    Returns:
        diffusers.DDPMScheduler.

    Raises:
        ImportError: diffusers is not installed.
    """
    cfg = _scheduler_config(config)
    return _diffusers().DDPMScheduler(**cfg)


def sampling_scheduler(config: dict = None):
    """The DDIM sampler of the schedule ``config`` (the training scheduler's config, so the same
    betas and ᾱ), with ``set_alpha_to_one=True`` (the last step lands on ᾱ = 1, x0 itself) and
    ``timestep_spacing="leading"`` (timesteps ``k * (T // steps)``, each step going back exactly
    ``T // steps``, for any number of steps).

    Args:
        config: as for :func:`training_scheduler`.

    Returns:
        diffusers.DDIMScheduler (call ``set_timesteps(steps)`` before stepping it).
    """
    ddpm = training_scheduler(config)
    return _diffusers().DDIMScheduler.from_config(ddpm.config, set_alpha_to_one=True,
                                                  timestep_spacing="leading", steps_offset=0)


def _generator(generator, name="generator"):
    """A torch.Generator from a generator, an int seed or None (seed 0)."""
    if generator is None:
        return torch.Generator().manual_seed(0)
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool) and generator >= 0:
        return torch.Generator().manual_seed(generator)
    raise TypeError("Expected %s to be a torch.Generator, an int seed >= 0 or None but got %r"
                    % (name, generator))


def _check_int(name, v, lo, none=False):
    if none and v is None:
        return
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        raise ValueError("Expected %s to be an int >= %d%s but got %r"
                         % (name, lo, " or None" if none else "", v))


def _describe(x):
    if isinstance(x, torch.Tensor):
        return "a %s tensor of shape %s on %s" % (str(x.dtype).replace("torch.", ""),
                                                  tuple(x.shape), x.device)
    return "a %s" % type(x).__name__


class GridDiffusion:
    """A DDPM on (C, res+1, res+1, res+1) grid tensors: the UNet, its EMA copy and the schedule.

    The EMA copy is what :meth:`sample` uses by default. After optimizer update ``k`` (0-based)
    it becomes ``d * ema + (1 - d) * weights`` with ``d = min(ema_decay, (1 + k) / (10 + k))``:
    the warm-up of TensorFlow's ExponentialMovingAverage, so that the first updates (d = 0.1,
    0.17, ...) forget the random initialisation quickly and the decay reaches ``ema_decay`` (0.999,
    an average over about the last 1000 steps) after ~9000 steps.

    Args:
        res: int >= 1, cubes per side; the tensors have R = res + 1 samples per side.
        channels: int >= 1, the tensor's channels (6: sdf, msdf, 3 deformations, mask).
        model_config: dict of :class:`gshell.nn.UNet3D` arguments (``in_channels`` and
            ``out_channels`` are ``channels``), or None for the defaults (base 32, mults (1, 2, 4)).
        scheduler_config: dict of ``diffusers.DDPMScheduler`` arguments over
            :data:`DEFAULT_SCHEDULER`, or None.
        ema_decay: float in [0, 1).
        seed: int, seeds the UNet's initial weights (the global RNG is left as it was).
        metadata: JSON-serialisable dict saved with the checkpoint (e.g. the data's scaling).
        output: what the UNet's output ``F`` is; either way the model is an ε-predictor (the loss
            is the ε MSE and the scheduler steps with ε̂). ``"epsilon"``: ``ε̂ = F``.
            ``"v"``: ``ε̂ = sqrt(1 - ᾱ_t) x_t + sqrt(ᾱ_t) F``, a preconditioned ε-predictor whose
            ``F`` is the v target ``sqrt(ᾱ) ε - sqrt(1 - ᾱ) x0`` (Salimans & Ho, 2022). At high
            noise ε ≈ x_t, and a plain UNet has to pass x_t through to within a few percent of
            ``sqrt(ᾱ)`` (0.017 at t = 900) before its x0 estimate means anything; with ``"v"`` an
            error in F reaches ε̂ scaled by ``sqrt(ᾱ)`` (see :meth:`predict_noise`). ``gshell gen
            train`` uses ``"v"`` (BENCHMARKS.md: 91% of the SDF signs right at t = 900 after 8000
            steps, against 64% with ``"epsilon"``); checkpoints written without it are "epsilon".

    Attributes:
        model: the trained UNet3D. ema: its EMA copy (no gradients). step: int, optimizer updates
        done. metadata: dict. res, channels, scheduler_config, ema_decay, output: as given.
    """

    def __init__(self, res: int, channels: int = 6, model_config: dict = None,
                 scheduler_config: dict = None, ema_decay: float = 0.999, seed: int = 0,
                 metadata: dict = None, output: str = "epsilon"):
        _check_int("res", res, 1)
        _check_int("channels", channels, 1)
        _check_int("seed", seed, 0)
        if not isinstance(ema_decay, (int, float)) or isinstance(ema_decay, bool) or not 0 <= ema_decay < 1:
            raise ValueError("Expected ema_decay to be a float in [0, 1) but got %r" % (ema_decay,))
        if model_config is not None and not isinstance(model_config, dict):
            raise TypeError("Expected model_config to be a dict of UNet3D arguments or None but "
                            "got %r" % type(model_config).__name__)
        if output not in OUTPUTS:
            raise ValueError("Expected output to be one of %s but got %r"
                             % (", ".join(map(repr, OUTPUTS)), output))
        cfg = dict(model_config or {})
        for key in ("in_channels", "out_channels"):
            if cfg.get(key, channels) != channels:
                raise ValueError("Expected model_config[%r] to be channels=%d (or absent) but got %r"
                                 % (key, channels, cfg[key]))
            cfg[key] = channels
        self.res = res
        self.channels = channels
        self.scheduler_config = _scheduler_config(scheduler_config)
        self.ema_decay = float(ema_decay)
        self.output = output
        self.metadata = dict(metadata or {})
        self.step = 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = UNet3D(**cfg)
        self.ema = copy.deepcopy(self.model).requires_grad_(False).eval()
        self._train_sched = None
        self._abar = None

    # ---- description -------------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        """(C, R, R, R) of one tensor, R = res + 1."""
        r = self.res + 1
        return (self.channels, r, r, r)

    @property
    def config(self) -> dict:
        """What defines the model (JSON-able): res, channels, model_config, scheduler_config,
        ema_decay, output."""
        return dict(res=self.res, channels=self.channels, model_config=self.model.config,
                    scheduler_config=dict(self.scheduler_config), ema_decay=self.ema_decay,
                    output=self.output)

    @property
    def device(self) -> torch.device:
        """The device of the weights."""
        return next(self.model.parameters()).device

    def to(self, device) -> "GridDiffusion":
        """Moves the UNet and its EMA copy to ``device``; returns self."""
        self.model.to(device)
        self.ema.to(device)
        return self

    def __repr__(self):
        return "GridDiffusion(res=%d, channels=%d, step=%d, %d parameters)" % (
            self.res, self.channels, self.step, self.model.num_parameters())

    def check_data(self, data, name: str = "data") -> None:
        """Checks that ``data`` are tensors this model was (or will be) trained on.

        Args:
            data: (N, C, R, R, R) float tensor, every value in [-1, 1] (to 1e-3) and finite.
            name: the argument's name in the messages.

        Raises:
            TypeError: not a floating-point torch.Tensor.
            ValueError: ``"Expected tensors of resolution <res> ... (the checkpoint's) but got
                ..."`` for another grid size; another channel count, rank, empty data, NaN/Inf
                or values outside [-1, 1] likewise.
        """
        if not isinstance(data, torch.Tensor) or not data.is_floating_point():
            raise TypeError("Expected %s to be a (N, %s) float tensor but got %s"
                            % (name, ", ".join(map(str, self.shape)), _describe(data)))
        if data.dim() != 5:
            raise ValueError("Expected %s to be a (N, C, R, R, R) tensor (N tensors of shape %s) but "
                             "got shape %s" % (name, self.shape, tuple(data.shape)))
        got = tuple(data.shape[1:])
        if got[1:] != self.shape[1:]:
            res = "resolution %d" % (got[1] - 1) if len(set(got[1:])) == 1 else "a non-cubic grid"
            raise ValueError("Expected tensors of resolution %d (shape %s, the checkpoint's) but "
                             "got %s (shape %s) in %s" % (self.res, self.shape, res, got, name))
        if got[0] != self.channels:
            raise ValueError("Expected tensors of %d channels (shape %s, the checkpoint's) but got %d "
                             "(shape %s) in %s" % (self.channels, self.shape, got[0], got, name))
        if data.shape[0] == 0:
            raise ValueError("Expected %s to hold at least one tensor but got shape %s"
                             % (name, tuple(data.shape)))
        lo, hi = torch.aminmax(data)
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("Expected finite values in %s but got NaN or Inf" % name)
        if lo < -1 - _RANGE_TOL or hi > 1 + _RANGE_TOL:
            raise ValueError("Expected %s scaled into [-1, 1] but got values in [%.4g, %.4g]"
                             % (name, lo, hi))

    # ---- training ----------------------------------------------------------------------------

    def training_scheduler(self):
        """The ``diffusers.DDPMScheduler`` of :attr:`scheduler_config` (made once, cached)."""
        if self._train_sched is None:
            self._train_sched = training_scheduler(self.scheduler_config)
        return self._train_sched

    def sampling_scheduler(self):
        """A new ``diffusers.DDIMScheduler`` of :attr:`scheduler_config` (see
        :func:`sampling_scheduler`)."""
        return sampling_scheduler(self.scheduler_config)

    def draw(self, n: int, generator=None):
        """The timesteps and noise of a batch: ``t`` (n,) int64 uniform in [0, T) and ``noise``
        (n, C, R, R, R) float32 standard normal, drawn in this order from ``generator`` (on its
        device)."""
        g = _generator(generator)
        t = torch.randint(0, self.scheduler_config["num_train_timesteps"], (n,), generator=g,
                          device=g.device)
        noise = torch.randn((n,) + self.shape, generator=g, device=g.device)
        return t, noise

    def predict_noise(self, x: torch.Tensor, t: torch.Tensor, ema: bool = False) -> torch.Tensor:
        """The model's noise estimate ε̂(x_t, t) (see ``output`` in the class docstring).

        Args:
            x: (B, C, R, R, R) float32 noisy tensors on the model's device.
            t: (B,) int64 timesteps on the same device.
            ema: bool, use the EMA weights (True) or the raw ones.
        Returns:
            (B, C, R, R, R) float32.
        """
        f = (self.ema if ema else self.model)(x, t)
        if self.output == "epsilon":
            return f
        abar = self._alphas_cumprod(x.device)[t].reshape((-1,) + (1,) * (x.dim() - 1))
        return (1 - abar).sqrt() * x + abar.sqrt() * f

    def _alphas_cumprod(self, device) -> torch.Tensor:
        """ᾱ of the training schedule, (T,) float32 on ``device`` (copied there once)."""
        device = torch.device(device)
        if self._abar is None or self._abar.device != device:
            self._abar = self.training_scheduler().alphas_cumprod.to(device, torch.float32)
        return self._abar

    def snr_weights(self, t: torch.Tensor, gamma: float) -> torch.Tensor:
        """Min-SNR-γ loss weights of ε-prediction (Hang et al., "Efficient Diffusion Training
        via Min-SNR Weighting Strategy", ICCV 2023): ``min(SNR_t, γ) / SNR_t`` with
        ``SNR_t = ᾱ_t / (1 - ᾱ_t)``. They are 1 where the noise dominates (SNR <= γ) and
        shrink the low-noise steps, whose easy ε targets otherwise dominate a uniform loss.

        Args:
            t: (B,) int64 timesteps. gamma: float > 0.
        Returns:
            (B,) float32 on ``t``'s device.
        """
        abar = self.training_scheduler().alphas_cumprod.to(t.device, torch.float64)[t]
        snr = abar / (1 - abar)
        return (snr.clamp(max=float(gamma)) / snr).float()

    def squared_error(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                      snr_gamma: float = None) -> torch.Tensor:
        """The summed squared error of the ε-prediction (what :meth:`loss` averages).

        Args:
            x0: (B, C, R, R, R) float32 clean tensors on the model's device.
            t: (B,) int64 timesteps; noise: (B, C, R, R, R) float32 (any device).
            snr_gamma: None (every sample weighs 1, the DDPM loss) or float > 0: each sample's
                squared error times :meth:`snr_weights` ``(t, snr_gamma)``.

        Returns:
            () float32, ``sum(w_t (model(x_t, t) - noise) ** 2)`` with
            ``x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise`` (ε̂ of :meth:`predict_noise`).
        """
        dev = x0.device
        t, noise = t.to(dev), noise.to(dev, x0.dtype)
        xt = self.training_scheduler().add_noise(x0, noise, t)
        err = (self.predict_noise(xt, t) - noise) ** 2
        if snr_gamma is None:
            return err.sum()
        return (err.flatten(1).sum(1) * self.snr_weights(t, snr_gamma)).sum()

    def loss(self, x0: torch.Tensor, generator=None) -> torch.Tensor:
        """The DDPM training loss of a batch: t uniform over the T training steps, Gaussian noise,
        the mean squared error of the predicted noise.

        Args:
            x0: (B, C, R, R, R) float tensor in [-1, 1] (moved to the model's device).
            generator: torch.Generator, int seed or None (seed 0): draws t and the noise.

        Returns:
            () float32 tensor with a gradient for :attr:`model`.
        """
        self.check_data(x0, "x0")
        x0 = x0.to(self.device, torch.float32)
        t, noise = self.draw(len(x0), generator)
        return self.squared_error(x0, t, noise) / x0.numel()

    @torch.no_grad()
    def update_ema(self) -> float:
        """Moves the EMA copy towards the weights after an optimizer update (the update counted
        by :attr:`step` before the call, see the class docstring); returns the decay used."""
        k = max(self.step - 1, 0)
        d = min(self.ema_decay, (1.0 + k) / (10.0 + k))
        for e, p in zip(self.ema.parameters(), self.model.parameters()):
            e.lerp_(p.detach(), 1.0 - d)
        for e, b in zip(self.ema.buffers(), self.model.buffers()):
            e.copy_(b)
        return d

    # ---- sampling ----------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, steps: int = 50, generator=None, batch_size: int = None,
               ema: bool = True, progress: bool = False) -> torch.Tensor:
        """Draws ``n`` tensors with deterministic DDIM (η = 0).

        The initial noise of all ``n`` tensors is drawn at once from ``generator`` (on its device),
        so the result depends on the generator and not on ``batch_size`` (but for float rounding).

        Args:
            n: int >= 1, how many.
            steps: int in [1, T], DDIM steps (50 to 100 is the usual range).
            generator: torch.Generator, int seed or None (seed 0).
            batch_size: int >= 1 or None (all ``n`` in one batch): tensors per UNet call.
            ema: bool, sample with the EMA weights (True) or the raw ones.
            progress: bool, a tqdm bar on stderr.

        Returns:
            (n, C, R, R, R) float32 on the model's device, values clamped to [-1, 1] by the
            schedule's ``clip_sample`` at each predicted x0.
        """
        _check_int("n", n, 1)
        _check_int("steps", steps, 1)
        _check_int("batch_size", batch_size, 1, none=True)
        if steps > self.scheduler_config["num_train_timesteps"]:
            raise ValueError("Expected steps <= %d (the training steps) but got %d"
                             % (self.scheduler_config["num_train_timesteps"], steps))
        from gshell.parallel import progress_bar

        g = _generator(generator)
        dev = self.device
        net = self.ema if ema else self.model
        was_training = net.training
        net.eval()
        sched = self.sampling_scheduler()
        sched.set_timesteps(steps)
        timesteps = [int(t) for t in sched.timesteps]
        noise = torch.randn((n,) + self.shape, generator=g, device=g.device)
        bs = n if batch_size is None else batch_size
        chunks = noise.split(bs)
        out = []
        with progress_bar(len(chunks) * steps, "sample", enabled=progress, unit="step") as bar:
            for chunk in chunks:
                x = chunk.to(dev)
                for t in timesteps:
                    tt = torch.full((len(x),), t, dtype=torch.int64, device=dev)
                    eps = self.predict_noise(x, tt, ema)
                    x = sched.step(eps, t, x, eta=0.0).prev_sample
                    bar.update(1)
                out.append(x)
        net.train(was_training)
        return torch.cat(out)

    # ---- checkpoints -------------------------------------------------------------------------

    def state(self, optimizer=None, train_state: dict = None) -> dict:
        """The checkpoint's contents (see :meth:`save`)."""
        cpu = lambda sd: {k: v.detach().cpu().clone() for k, v in sd.items()}  # noqa: E731
        return {"format": _FORMAT, "version": _VERSION, "res": self.res, "channels": self.channels,
                "model_config": self.model.config, "scheduler_config": dict(self.scheduler_config),
                "ema_decay": self.ema_decay, "output": self.output, "step": self.step,
                "model": cpu(self.model.state_dict()), "ema": cpu(self.ema.state_dict()),
                "optimizer": None if optimizer is None else optimizer.state_dict(),
                "train": None if train_state is None else dict(train_state),
                "metadata": dict(self.metadata)}

    def save(self, path, optimizer=None, train_state: dict = None) -> None:
        """Writes a checkpoint atomically (a temporary file beside ``path``, then ``os.replace``):
        a reader never sees a partial file and a failed write leaves the old one.

        Contents (a ``torch.save`` dict): format and version tags, res, channels, the UNet config,
        the scheduler config, ema_decay, step, the raw and EMA weights (on CPU), the optimizer's
        state (when given), the training state (``train_state``, as :func:`train` records it) and
        :attr:`metadata`.

        Args:
            path: str or os.PathLike; its folder must exist.
            optimizer: torch.optim.Optimizer of :attr:`model`, or None.
            train_state: JSON-able dict, or None.

        Raises:
            FileNotFoundError: the folder does not exist.
            ValueError: metadata or train_state is not JSON-serialisable.
        """
        from gshell._atomic import write_atomic

        for name, value in (("metadata", self.metadata), ("train_state", train_state)):
            try:
                json.dumps(value)
            except (TypeError, ValueError) as e:
                raise ValueError("Expected %s to be JSON-serialisable (it is saved in the "
                                 "checkpoint) but got %s" % (name, e)) from None
        state = self.state(optimizer, train_state)
        write_atomic(path, lambda tmp: torch.save(state, tmp))

    @classmethod
    def from_state(cls, state: dict, where: str = "the checkpoint") -> "GridDiffusion":
        """Rebuilds a model from :meth:`state`'s dict (the optimizer state stays in the dict)."""
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            got = ("format %r" % (state.get("format"),) if isinstance(state, dict)
                   else "a %s" % type(state).__name__)
            raise ValueError("Expected a gshell GridDiffusion checkpoint (format %r) in %s but got %s"
                             % (_FORMAT, where, got))
        missing = [k for k in _KEYS if k not in state]
        if missing:
            raise ValueError("Expected the keys %s in %s but %s %s missing"
                             % (", ".join(_KEYS), where, ", ".join(missing),
                                "is" if len(missing) == 1 else "are"))
        if not isinstance(state["version"], int) or state["version"] > _VERSION:
            raise ValueError("Expected a checkpoint of version <= %d in %s but got version %r (written "
                             "by a newer gshell?)" % (_VERSION, where, state["version"]))
        dm = cls(state["res"], state["channels"], model_config=state["model_config"],
                 scheduler_config=state["scheduler_config"], ema_decay=state["ema_decay"],
                 metadata=state["metadata"], output=state.get("output", "epsilon"))
        for name in ("model", "ema"):
            weights = state[name] if state[name] is not None else state["ema"]  # a sampling model: EMA only
            try:
                getattr(dm, name).load_state_dict(weights)
            except RuntimeError as e:
                raise ValueError("Expected the %r weights in %s to fit its model_config but got: %s"
                                 % (name, where, str(e).splitlines()[0])) from None
        dm.step = int(state["step"])
        return dm

    @classmethod
    def load(cls, path, map_location="cpu") -> "GridDiffusion":
        """Reads a checkpoint written by :meth:`save` or :func:`train`.

        Args:
            path: str or os.PathLike.
            map_location: where the weights go (as for ``torch.load``).

        Returns:
            GridDiffusion on ``map_location``, with its step and metadata.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: the file is not a readable torch file (truncated, corrupted), not a gshell
                GridDiffusion checkpoint, lacks keys, or its weights do not fit its config.
        """
        return cls.from_state(_read(path, map_location), repr(os.fspath(path)))


def _read(path, map_location="cpu"):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("Expected a GridDiffusion checkpoint file at %r but %s"
                                % (path, "it is a folder" if os.path.isdir(path) else "it does not exist"))
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise ValueError("Expected a gshell GridDiffusion checkpoint at %r but the file could not be "
                         "read as one (%s: %s); is it truncated or not a checkpoint?"
                         % (path, type(e).__name__, str(e).splitlines()[0] if str(e) else "")) from None


# ---- training --------------------------------------------------------------------------------

def _step_generator(seed, step, stream):
    """A generator determined by (seed, step, stream) only."""
    mixed = (seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + stream * 0x94D049BB133111EB)
    return torch.Generator().manual_seed(mixed % (2 ** 63 - 1))


def _batch_indices(n, batch_size, seed, step):
    """The data rows of global batch ``step``: positions ``step * B .. step * B + B - 1`` of an
    endless sequence of epochs, epoch ``e`` a permutation of the n rows drawn from (seed, e), so
    every row comes once per epoch and a batch depends only on (seed, step)."""
    pos = torch.arange(step * batch_size, (step + 1) * batch_size)
    epochs = pos // n
    out = torch.empty(batch_size, dtype=torch.int64)
    for e in torch.unique(epochs).tolist():
        perm = torch.randperm(n, generator=_step_generator(seed, e, 1))
        sel = epochs == e
        out[sel] = perm[pos[sel] % n]
    return out


def _make(diffusion_or_config, data, seed):
    if isinstance(diffusion_or_config, GridDiffusion):
        return diffusion_or_config
    if diffusion_or_config is not None and not isinstance(diffusion_or_config, dict):
        raise TypeError("Expected diffusion_or_config to be a GridDiffusion, a dict of its "
                        "arguments or None but got %r" % type(diffusion_or_config).__name__)
    cfg = dict(diffusion_or_config or {})
    if isinstance(data, torch.Tensor) and data.dim() == 5:
        cfg.setdefault("res", data.shape[-1] - 1)
        cfg.setdefault("channels", data.shape[1])
    cfg.setdefault("seed", seed)
    if "res" not in cfg:
        raise ValueError("Expected diffusion_or_config to give res, or data of shape (N, C, R, R, R) "
                         "to take it from, but got %s" % _describe(data))
    try:
        return GridDiffusion(**cfg)
    except TypeError as e:
        raise TypeError("Expected diffusion_or_config to hold GridDiffusion arguments but got: %s"
                        % e) from None


def train(diffusion_or_config, data: torch.Tensor, out_dir, steps: int, batch_size: int = 8,
          lr: float = 2e-4, seed: int = 0, save_every: int = 1000, resume: bool = True,
          device=None, progress: bool = True, log=None, snr_gamma: float = None) -> GridDiffusion:
    """Trains the diffusion model on grid tensors, resumably and, under torchrun, data-parallel.

    Every step draws a global batch of ``batch_size`` rows of ``data`` (an endless sequence of
    per-epoch permutations), its timesteps and its noise from generators seeded by
    (``seed``, step) alone: a run interrupted and resumed from ``out_dir/checkpoint.pt`` ends with
    the weights of a run straight through. Adam (β = 0.9, 0.999, no weight decay) at constant
    ``lr``, gradients clipped to norm 1.0, then the EMA update.

    Under ``torchrun`` (see :mod:`gshell._distributed`) every rank draws the same global batch,
    computes its shard's share of the global mean loss, and the gradients are summed: the ranks
    end with the weights of one process (to float rounding); only rank 0 writes and shows the bar.

    Args:
        diffusion_or_config: a :class:`GridDiffusion`, or a dict of its arguments (``res`` and
            ``channels`` default to the data's, ``seed`` to this ``seed``), or None (defaults).
            When ``out_dir`` holds a checkpoint and ``resume`` is True, that checkpoint's model
            is used, and its configuration must be the one asked for (any, for None).
        data: (N, C, R, R, R) float tensor in [-1, 1] (on CPU or the training device).
        out_dir: folder of ``checkpoint.pt`` (created when missing; an absolute path only when
            its parent exists, see :func:`gshell._atomic.make_folder`).
        steps: int >= 0, the total number of optimizer updates (a resumed run goes on to it).
        batch_size: int >= 1, the global batch.
        lr: float > 0, Adam's learning rate.
        seed: int >= 0, the seed of the data order and the noise (and of the initial weights of
            a model built here).
        save_every: int >= 1 or None: checkpoint every so many steps; always at the end.
        resume: bool, continue from ``out_dir/checkpoint.pt`` when it exists (False: start over and
            overwrite it).
        device: training device (default CPU; ``"cuda"`` is ``cuda:LOCAL_RANK`` under torchrun).
        progress: bool, a tqdm bar with the loss (rank 0 only).
        log: None, a callable taking a dict ``{"step", "loss", "grad_norm", "ema_decay"}`` after
            every update, or a path of a JSON-lines file appended to (rank 0 only).
        snr_gamma: None (the DDPM loss: every timestep weighs 1) or float > 0: min-SNR-γ
            weights (:meth:`GridDiffusion.snr_weights`; 5 in its paper), which move the loss
            towards the high-noise steps that decide a sample's shape (the shipped model uses 5).

    Returns:
        GridDiffusion on ``device``, ``step == steps`` (or the checkpoint's, when larger).

    Raises:
        ValueError: bad arguments; data of another resolution or channel count than the model
            (or than the checkpoint resumed); a checkpoint of another configuration, seed, batch
            size, learning rate or data count than asked for.
    """
    from gshell._atomic import make_folder
    from gshell.parallel import progress_bar

    _check_int("steps", steps, 0)
    _check_int("batch_size", batch_size, 1)
    _check_int("seed", seed, 0)
    _check_int("save_every", save_every, 1, none=True)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not (lr > 0 and math.isfinite(lr)):
        raise ValueError("Expected lr to be a float > 0 but got %r" % (lr,))
    if snr_gamma is not None and (not isinstance(snr_gamma, (int, float)) or isinstance(snr_gamma, bool)
                                  or not (snr_gamma > 0 and math.isfinite(snr_gamma))):
        raise ValueError("Expected snr_gamma to be None or a float > 0 but got %r" % (snr_gamma,))
    if log is not None and not callable(log) and not isinstance(log, (str, os.PathLike)):
        raise TypeError("Expected log to be None, a callable or a path but got %r" % type(log).__name__)
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError("Expected out_dir to be a path but got %r" % type(out_dir).__name__)
    world = _distributed.setup(device)
    dev = _distributed.device_of(device, world)
    main = world.rank == 0
    ckpt = os.path.join(os.fspath(out_dir), CHECKPOINT)

    wanted = _make(diffusion_or_config, data, seed)
    wanted.check_data(data)
    train_state = dict(seed=seed, batch_size=batch_size, lr=float(lr), n_data=int(data.shape[0]),
                       snr_gamma=None if snr_gamma is None else float(snr_gamma))
    opt_state = None
    if resume and os.path.exists(ckpt):
        state = _read(ckpt)
        dm = GridDiffusion.from_state(state, repr(ckpt))
        dm.check_data(data)
        if diffusion_or_config is not None and dm.config != wanted.config:
            diff = sorted(k for k in dm.config if dm.config[k] != wanted.config[k])
            raise ValueError("Expected the configuration asked for to be that of the checkpoint %r to "
                             "resume but %s differ (%s there, %s here); pass resume=False or another "
                             "out_dir" % (ckpt, ", ".join(diff), {k: dm.config[k] for k in diff},
                                          {k: wanted.config[k] for k in diff}))
        done = state.get("train") or {}
        for key, value in train_state.items():
            if key in done and done[key] != value:
                raise ValueError("Expected %s=%r, the checkpoint's %r to resume, but got %r; pass "
                                 "resume=False or another out_dir" % (key, done[key], ckpt, value))
        opt_state = state.get("optimizer")
        dm.metadata.update(wanted.metadata)
    else:
        dm = wanted
    if main:
        make_folder(out_dir)

    dm.to(dev)
    dm.model.train()
    _distributed.broadcast_module_(dm.model, world)
    _distributed.broadcast_module_(dm.ema, world)
    params = list(dm.model.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
        for group in opt.param_groups:
            group["lr"] = lr
    n = int(data.shape[0])
    per_item = math.prod(dm.shape)
    logger = _logger(log) if main else None
    loss_value = float("nan")
    start = dm.step
    with progress_bar(max(steps, start), "diffusion", enabled=progress and main, initial=start,
                      unit="step") as bar:
        for k in range(start, steps):
            rows = _batch_indices(n, batch_size, seed, k)
            t, noise = dm.draw(batch_size, _step_generator(seed, k, 0))
            mine = _distributed.shard(batch_size, world)
            opt.zero_grad(set_to_none=True)
            loss = torch.zeros((), device=dev)
            if mine.stop > mine.start:
                x0 = data[rows[mine]].to(dev, torch.float32)
                loss = dm.squared_error(x0, t[mine], noise[mine], snr_gamma) / (batch_size * per_item)
                loss.backward()
            total = _distributed.all_reduce_grads_(params, world, loss.detach().reshape(1))
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
            opt.step()
            dm.step = k + 1
            decay = dm.update_ema()
            loss_value = float(total.sum())
            if main:
                bar.set_postfix(loss="%.4g" % loss_value, refresh=False)
                bar.update(1)
                if logger is not None:
                    logger({"step": dm.step, "loss": loss_value, "grad_norm": grad_norm,
                            "ema_decay": decay})
                if (save_every and dm.step % save_every == 0) or dm.step == steps:
                    dm.metadata["loss"] = loss_value
                    dm.save(ckpt, opt, train_state)
    if main and start >= steps and not os.path.exists(ckpt):
        dm.save(ckpt, opt, train_state)
    dm.model.eval()
    return dm


def _logger(log):
    if log is None or callable(log):
        return log
    path = os.fspath(log)

    def write(record):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    return write


# ---- sampling models -------------------------------------------------------------------------

def export_model(diffusion: GridDiffusion, path, train_tensors: torch.Tensor = None, train_names=None,
                 info: dict = None) -> None:
    """Writes a sampling model: a checkpoint with the EMA weights only (half the size of a
    training checkpoint, no optimizer), and optionally the training set, packed
    (:func:`gshell.gen.tensor.pack`: signs as bits, values on the mask in float16), for the
    nearest-training-shape panels of ``gshell gen sample``. :meth:`GridDiffusion.load` reads it.

    Args:
        diffusion: the trained GridDiffusion.
        path: output file (written atomically).
        train_tensors: None or (N, C, R, R, R) float tensor of the model's shape.
        train_names: None or N names (the training files' stems).
        info: JSON-able dict kept in the metadata (e.g. the command and time that made it).
    """
    from gshell._atomic import write_atomic
    from gshell.gen.tensor import pack

    state = diffusion.state()
    state["model"] = None
    state["metadata"] = dict(state["metadata"], **(info or {}))
    json.dumps(state["metadata"])
    if train_tensors is not None:
        diffusion.check_data(train_tensors, "train_tensors")
        names = list(train_names) if train_names is not None else ["%d" % i for i in range(len(train_tensors))]
        if len(names) != len(train_tensors):
            raise ValueError("Expected %d train_names but got %d" % (len(train_tensors), len(names)))
        state["train_shapes"] = [pack(t) for t in train_tensors]
        state["train_names"] = [str(n) for n in names]
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_model(path, map_location="cpu"):
    """Reads a sampling model or a training checkpoint.

    Returns:
        (GridDiffusion, train_tensors (N, C, R, R, R) float32 CPU tensor or None, train_names
        list or None).
    Raises:
        FileNotFoundError, ValueError: as :meth:`GridDiffusion.load`.
    """
    from gshell.gen.tensor import unpack

    where = repr(os.fspath(path))
    state = _read(path, map_location)
    dm = GridDiffusion.from_state(state, where)
    packed = state.get("train_shapes") if isinstance(state, dict) else None
    if not packed:
        return dm, None, None
    try:
        tensors = torch.stack([unpack(p) for p in packed])
    except ValueError as e:
        raise ValueError("Expected the training shapes in %s to unpack but got: %s" % (where, e)) from None
    return dm, tensors, list(state.get("train_names") or [])


#: File name of the model shipped with gshell (``assets/gen/`` of the source tree).
SHIPPED = "garments16.pt"


def shipped_model_path():
    """Path of the shipped garment model: ``$GSHELL_ASSETS/gen/garments16.pt`` when that variable
    is set, else ``assets/gen/`` of the source tree (a checkout or an editable install), else
    ``<prefix>/share/gshell/gen/`` (a wheel install).

    Raises:
        FileNotFoundError: none of them holds the file (the message lists where it looked).
    """
    import sys

    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    places = []
    if os.environ.get("GSHELL_ASSETS"):
        places.append(os.path.join(os.environ["GSHELL_ASSETS"], "gen", SHIPPED))
    places += [os.path.join(here, "assets", "gen", SHIPPED), os.path.join(sys.prefix, "share", "gshell", "gen", SHIPPED)]
    for p in places:
        if os.path.isfile(p):
            return p
    raise FileNotFoundError("Expected the shipped generation model %s in one of %s but found none; pass a "
                            "checkpoint of 'gshell gen train' instead" % (SHIPPED, ", ".join(map(repr, places))))
