"""gshell.nn.UNet3D: shapes for any grid size (padded and cropped inside), the zero-initialised
output, gradients reaching every parameter, the timestep input, the config round trip, and one
optimizer step lowering the ε-loss of a fixed batch."""
import pytest
import torch

from gshell.nn import UNet3D
from gshell.nn.unet3d import timestep_embedding


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**kw):
    torch.manual_seed(0)
    cfg = dict(in_channels=6, base_channels=8, channel_mults=(1, 2), groups=4)
    cfg.update(kw)
    return UNet3D(**cfg)


def randomise_output(net, seed=1):
    """Gives the zero-initialised last convolution random weights, so that the output depends on
    the input and every parameter gets a gradient."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        net.conv_out.weight.copy_(0.1 * torch.randn(net.conv_out.weight.shape, generator=g))
        net.conv_out.bias.copy_(0.1 * torch.randn(net.conv_out.bias.shape, generator=g))


@pytest.mark.parametrize("size", [17, 9, (9, 17, 5)])
@pytest.mark.parametrize("batch", [1, 3])
def test_output_has_the_input_shape_for_odd_sizes(size, batch):
    d, h, w = (size,) * 3 if isinstance(size, int) else size
    for net in (tiny(), tiny(channel_mults=(1, 2, 2), out_channels=2)):
        randomise_output(net)
        x = torch.randn(batch, 6, d, h, w, generator=torch.Generator().manual_seed(2))
        y = net(x, torch.arange(batch) * 100)
        assert y.shape == (batch, net.config["out_channels"], d, h, w)
        assert y.dtype == torch.float32 and torch.isfinite(y).all()


def test_padding_is_the_replicated_far_border_cropped_back():
    # GroupNorm and the receptive field make every output depend on every input, so the padding
    # shows: a 17-grid is the 18-grid of its replicated far border (no padding needed), cropped
    import torch.nn.functional as F

    net = tiny(channel_mults=(1, 2))
    randomise_output(net)
    x = torch.randn(1, 6, 17, 17, 17, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([10])
    big = net(F.pad(x, (0, 1, 0, 1, 0, 1), mode="replicate"), t)
    torch.testing.assert_close(net(x, t), big[:, :, :17, :17, :17], rtol=1e-5, atol=1e-6)
    zero = net(F.pad(x, (0, 1, 0, 1, 0, 1)), t)  # another padding gives another output
    assert (zero[:, :, :17, :17, :17] - big[:, :, :17, :17, :17]).abs().max() > 1e-4


def test_output_is_zero_at_construction():
    net = tiny(attention_levels=(1,))
    y = net(torch.randn(2, 6, 9, 9, 9), torch.tensor([0, 999]))
    assert torch.count_nonzero(y) == 0
    assert torch.count_nonzero(net.conv_out.weight) == 0 and torch.count_nonzero(net.conv_out.bias) == 0


@pytest.mark.parametrize("attention", [(), (1,), (0, 1)])
def test_gradients_reach_every_parameter(attention):
    net = tiny(attention_levels=attention)
    x = torch.randn(2, 6, 9, 9, 9, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([3, 700])
    w = torch.randn(2, 6, 9, 9, 9, generator=torch.Generator().manual_seed(5))
    # at construction only the last convolution has a gradient (its input is nonzero) ...
    (net(x, t) * w).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and (p.grad.abs().sum() > 0) == name.startswith("conv_out"), name
    assert net.conv_out.weight.grad.abs().sum() > 0
    net.zero_grad()
    # ... once it is nonzero, every parameter has one
    randomise_output(net)
    x.requires_grad_(True)
    (net(x, t) * w).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_timestep_input():
    net = tiny()
    randomise_output(net)
    x = torch.randn(2, 6, 9, 9, 9, generator=torch.Generator().manual_seed(5))
    a = net(x, torch.tensor([5, 5]))
    torch.testing.assert_close(net(x, torch.tensor([5.0, 5.0])), a, rtol=0, atol=0)
    torch.testing.assert_close(net(x, 5), a, rtol=0, atol=0)  # a scalar is every item's timestep
    b = net(x, torch.tensor([5, 900]))
    torch.testing.assert_close(b[0], a[0], rtol=0, atol=0)  # items are independent
    assert (b[1] - a[1]).abs().max() > 1e-4  # the timestep changes the prediction
    emb = timestep_embedding(torch.tensor([0, 7]), 9)
    assert emb.shape == (2, 9)
    torch.testing.assert_close(emb[0, :4], torch.ones(4))  # cos(0)
    torch.testing.assert_close(emb[1, 0], torch.cos(torch.tensor(7.0)))


def test_config_rebuilds_the_network():
    net = tiny(num_res_blocks=2, attention_levels=(1,), dropout=0.1)
    twin = UNet3D(**net.config)
    assert twin.config == net.config and twin.num_parameters() == net.num_parameters()
    twin.load_state_dict(net.state_dict())  # the same parameter names and shapes
    assert net.num_parameters() == sum(p.numel() for p in net.parameters())
    assert net.config["channel_mults"] == [1, 2] and net.config["out_channels"] == 6


def test_default_network_size():
    net = UNet3D()
    assert net.config == dict(in_channels=6, out_channels=6, base_channels=32, channel_mults=[1, 2, 4],
                              num_res_blocks=1, attention_levels=[], dropout=0.0, groups=8)
    assert 5_000_000 < net.num_parameters() < 10_000_000


def test_one_step_lowers_the_loss_of_a_fixed_batch():
    net = tiny()
    g = torch.Generator().manual_seed(6)
    x = torch.randn(4, 6, 9, 9, 9, generator=g)
    noise = torch.randn(4, 6, 9, 9, 9, generator=g)
    t = torch.tensor([1, 250, 500, 999])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        loss = torch.mean((net(x, t) - noise) ** 2)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        losses.append(float(torch.mean((net(x, t) - noise) ** 2)))
    assert abs(losses[0] - float(noise.pow(2).mean())) < 1e-6  # the zero output's loss
    assert losses[1] < losses[0] - 1e-4 and losses[3] < losses[2]


def test_bad_arguments():
    with pytest.raises(ValueError, match="Expected groups to divide"):
        UNet3D(base_channels=12, groups=8)
    with pytest.raises(ValueError, match="Expected channel_mults"):
        UNet3D(channel_mults=())
    with pytest.raises(ValueError, match="Expected attention_levels"):
        UNet3D(channel_mults=(1, 2), attention_levels=(2,))
    with pytest.raises(ValueError, match="Expected dropout"):
        UNet3D(dropout=1.0)
    net = tiny()
    with pytest.raises(ValueError, match="Expected x to have 6 channels"):
        net(torch.zeros(1, 5, 9, 9, 9), torch.tensor([0]))
    with pytest.raises(ValueError, match="Expected x to be a"):
        net(torch.zeros(6, 9, 9, 9), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"Expected t to be a \(2,\)"):
        net(torch.zeros(2, 6, 9, 9, 9), torch.tensor([0, 1, 2]))
