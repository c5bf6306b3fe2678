"""A 3D UNet that predicts the noise of a diffusion model on grid tensors (G-MeshDiffusion).

The network follows the DDPM UNet of Ho et al. (https://arxiv.org/abs/2006.11239), made 3D as in
MeshDiffusion (Liu et al. 2023, https://arxiv.org/abs/2303.08133) and G-MeshDiffusion (the
"Ghost on the Shell" paper, https://arxiv.org/abs/2310.15168): a sinusoidal timestep embedding and
an MLP; per level ``num_res_blocks`` residual blocks (GroupNorm, SiLU, Conv3d, the time embedding
added between the two convolutions); a strided convolution down and a nearest upsampling plus
convolution up; skip connections from every block of the way down to the way up; optional
self-attention at chosen levels; the last convolution zero-initialised, so that a new network
predicts zero noise.

Grids of any size are accepted: the input is padded (replicated border) to a multiple of
``2 ** (len(channel_mults) - 1)`` on each side and the output cropped back.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNet3D", "timestep_embedding"]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """The sinusoidal embedding of Transformer positions, used for diffusion timesteps.

    Args:
        t: (B,) int64 or float timesteps (any device).
        dim: int >= 2, the embedding's width.
        max_period: float, the longest wavelength.

    Returns:
        (B, dim) float32 on ``t``'s device: ``[cos(t f_k), sin(t f_k)]`` with frequencies
        ``f_k = max_period ** (-k / half)``, zero-padded to ``dim`` when it is odd.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32,
                                                           device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class _ResBlock(nn.Module):
    """GroupNorm, SiLU, Conv3d, + time embedding, GroupNorm, SiLU, dropout, Conv3d; the input is
    added back through a 1x1x1 convolution when the channel count changes."""

    def __init__(self, cin, cout, temb, groups, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv3d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(emb))[:, :, None, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class _Attention(nn.Module):
    """Multi-head self-attention over the D*H*W voxels of a level, residual."""

    def __init__(self, ch, groups, head_channels=32):
        super().__init__()
        self.heads = max(1, ch // head_channels)
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv3d(ch, 3 * ch, 1)
        self.proj = nn.Conv3d(ch, ch, 1)

    def forward(self, x):
        b, c, d, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, d * h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2),
                                             v.transpose(-1, -2))
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, d, h, w))


class _Stage(nn.Module):
    """A residual block, then self-attention when asked for."""

    def __init__(self, cin, cout, temb, groups, dropout, attention):
        super().__init__()
        self.res = _ResBlock(cin, cout, temb, groups, dropout)
        self.attn = _Attention(cout, groups) if attention else None

    def forward(self, x, emb):
        h = self.res(x, emb)
        return h if self.attn is None else self.attn(h)


class UNet3D(nn.Module):
    """3D UNet for ε-prediction on (C, D, H, W) grids.

    Args:
        in_channels: int, channels of the input grid (6 for G-MeshDiffusion: sdf, msdf, three
            deformation channels, mask).
        out_channels: int or None (same as ``in_channels``).
        base_channels: int, width of the first level; level ``i`` has
            ``base_channels * channel_mults[i]`` channels.
        channel_mults: tuple of ints, one per level; there are ``len(channel_mults) - 1``
            downsamplings by 2.
        num_res_blocks: int >= 1, residual blocks per level on the way down (one more on the way up).
        attention_levels: tuple of level indices (0 = full resolution) with self-attention after
            each residual block; when it holds the lowest level, the middle block has one too.
            Attention over a level of n voxels costs n² memory: keep it to the lowest levels.
        dropout: float in [0, 1), dropout inside the residual blocks.
        groups: int, GroupNorm groups; must divide every level's channel count.

    Grids of any size D, H, W go in: each side is padded (replicating the far border) to a multiple
    of :attr:`multiple` = ``2 ** (len(channel_mults) - 1)`` and the output cropped back.

    Example:
        >>> net = UNet3D(6, base_channels=16, channel_mults=(1, 2), groups=4)
        >>> net(torch.zeros(2, 6, 17, 17, 17), torch.tensor([0, 999])).shape
        torch.Size([2, 6, 17, 17, 17])
    """

    def __init__(self, in_channels: int = 6, out_channels: int = None, base_channels: int = 32,
                 channel_mults=(1, 2, 4), num_res_blocks: int = 1, attention_levels=(),
                 dropout: float = 0.0, groups: int = 8):
        super().__init__()
        for name, v, lo in (("in_channels", in_channels, 1), ("base_channels", base_channels, 1),
                            ("num_res_blocks", num_res_blocks, 1), ("groups", groups, 1)):
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError("Expected %s to be an int >= %d but got %r" % (name, lo, v))
        if out_channels is None:
            out_channels = in_channels
        if not isinstance(out_channels, int) or isinstance(out_channels, bool) or out_channels < 1:
            raise ValueError("Expected out_channels to be an int >= 1 or None but got %r"
                             % (out_channels,))
        mults = tuple(channel_mults) if isinstance(channel_mults, (list, tuple)) else None
        if not mults or any(not isinstance(m, int) or isinstance(m, bool) or m < 1 for m in mults):
            raise ValueError("Expected channel_mults to be a non-empty tuple of ints >= 1 but got %r"
                             % (channel_mults,))
        levels = len(mults)
        att = tuple(attention_levels) if isinstance(attention_levels, (list, tuple)) else None
        if att is None or any(not isinstance(a, int) or isinstance(a, bool) or not 0 <= a < levels
                              for a in att):
            raise ValueError("Expected attention_levels to be a tuple of level indices in [0, %d) "
                             "but got %r" % (levels, attention_levels))
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout < 1:
            raise ValueError("Expected dropout to be a float in [0, 1) but got %r" % (dropout,))
        chans = [base_channels * m for m in mults]
        bad = [c for c in chans if c % groups]
        if bad:
            raise ValueError("Expected groups to divide every level's channel count %s but got "
                             "groups=%d" % (chans, groups))
        self._config = dict(in_channels=in_channels, out_channels=out_channels,
                            base_channels=base_channels, channel_mults=list(mults),
                            num_res_blocks=num_res_blocks, attention_levels=sorted(set(att)),
                            dropout=float(dropout), groups=groups)
        self.multiple = 2 ** (levels - 1)
        temb = 4 * base_channels
        self.time_mlp = nn.Sequential(nn.Linear(base_channels, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv3d(in_channels, base_channels, 3, padding=1)

        self.down = nn.ModuleList()
        skips = [base_channels]
        ch = base_channels
        for lvl, cout in enumerate(chans):
            blocks = nn.ModuleList()
            for _ in range(num_res_blocks):
                blocks.append(_Stage(ch, cout, temb, groups, dropout, lvl in att))
                ch = cout
                skips.append(ch)
            down = nn.Conv3d(ch, ch, 3, stride=2, padding=1) if lvl < levels - 1 else None
            if down is not None:
                skips.append(ch)
            self.down.append(nn.ModuleDict({"blocks": blocks, **({"down": down} if down is not None else {})}))

        self.mid1 = _ResBlock(ch, ch, temb, groups, dropout)
        self.mid_attn = _Attention(ch, groups) if levels - 1 in att else None
        self.mid2 = _ResBlock(ch, ch, temb, groups, dropout)

        self.up = nn.ModuleList()
        for lvl in reversed(range(levels)):
            cout = chans[lvl]
            blocks = nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                blocks.append(_Stage(ch + skips.pop(), cout, temb, groups, dropout, lvl in att))
                ch = cout
            up = nn.Conv3d(ch, ch, 3, padding=1) if lvl > 0 else None
            self.up.append(nn.ModuleDict({"blocks": blocks, **({"up": up} if up is not None else {})}))
        assert not skips

        self.norm_out = nn.GroupNorm(groups, ch)
        self.conv_out = nn.Conv3d(ch, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    @property
    def config(self) -> dict:
        """The constructor's arguments (a JSON-able dict): ``UNet3D(**net.config)`` rebuilds it."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self._config.items()}

    def num_parameters(self) -> int:
        """The number of trainable scalars (int)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        """Predicts the noise of ``x`` at timesteps ``t``.

        Args:
            x: (B, C_in, D, H, W) float tensor, any D, H, W >= 1.
            t: (B,) int64 or float tensor of timesteps (or a scalar / Python number for all),
                on any device.

        Returns:
            (B, C_out, D, H, W) tensor of ``x``'s dtype and device.
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or not x.is_floating_point():
            raise ValueError("Expected x to be a (B, C, D, H, W) float tensor but got %s"
                             % (_describe(x),))
        cin = self._config["in_channels"]
        if x.shape[1] != cin:
            raise ValueError("Expected x to have %d channels (B, %d, D, H, W) but got shape %s"
                             % (cin, cin, tuple(x.shape)))
        b = x.shape[0]
        if not isinstance(t, torch.Tensor):
            t = torch.tensor(t)
        if t.dim() == 0:
            t = t.expand(b)
        if t.dim() != 1 or t.shape[0] != b or t.is_complex() or t.dtype == torch.bool:
            raise ValueError("Expected t to be a (%d,) int or float tensor of timesteps but got %s"
                             % (b, _describe(t)))
        t = t.to(x.device)
        emb = self.time_mlp(timestep_embedding(t, self._config["base_channels"]).to(x.dtype))

        size = x.shape[2:]
        m = self.multiple
        pad = [(-s) % m for s in size]
        if any(pad):
            # F.pad lists the last dimension first; the padding goes after the grid (replicated border)
            x = F.pad(x, (0, pad[2], 0, pad[1], 0, pad[0]), mode="replicate")

        h = self.conv_in(x)
        hs = [h]
        for level in self.down:
            for stage in level["blocks"]:
                h = stage(h, emb)
                hs.append(h)
            if "down" in level:
                h = level["down"](h)
                hs.append(h)
        h = self.mid1(h, emb)
        if self.mid_attn is not None:
            h = self.mid_attn(h)
        h = self.mid2(h, emb)
        for level in self.up:
            for stage in level["blocks"]:
                h = stage(torch.cat([h, hs.pop()], dim=1), emb)
            if "up" in level:
                h = level["up"](F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.conv_out(F.silu(self.norm_out(h)))
        if any(pad):
            h = h[:, :, :size[0], :size[1], :size[2]]
        return h


def _describe(x):
    if isinstance(x, torch.Tensor):
        return "a %s tensor of shape %s on %s" % (str(x.dtype).replace("torch.", ""),
                                                  tuple(x.shape), x.device)
    return repr(type(x).__name__)
