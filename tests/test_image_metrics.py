"""gshell.metrics.psnr and ssim against scikit-image on random images, and their input checks."""
import math

import pytest
import torch

from gshell.metrics import psnr, ssim

skm = pytest.importorskip("skimage.metrics")


def _pair(shape, seed=0, noise=0.1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(shape, generator=g, dtype=torch.float64)
    b = (a + noise * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return b.to(dtype), a.to(dtype)      # pred, target


def _sk_ssim(pred, target, data_range=1.0):
    return skm.structural_similarity(target, pred, data_range=data_range, channel_axis=-1, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)


@pytest.mark.parametrize("shape", [(11, 11, 3), (32, 45, 3), (40, 23, 1)])
def test_ssim_matches_scikit_image(shape):
    pred, target = _pair(shape)
    got = ssim(pred, target)
    assert got.shape == () and got.dtype == torch.float64
    assert abs(float(got) - _sk_ssim(pred.numpy(), target.numpy())) < 1e-10
    # float32, another data range
    p32, t32 = pred.float() * 2, target.float() * 2
    want = _sk_ssim(p32.double().numpy(), t32.double().numpy(), data_range=2.0)
    assert abs(float(ssim(p32, t32, data_range=2.0)) - want) < 1e-5


def test_ssim_batch_and_identity():
    pred, target = _pair((3, 24, 20, 3), seed=1, noise=0.3)
    got = ssim(pred, target)
    assert got.shape == (3,)
    for i in range(3):
        assert abs(float(got[i]) - _sk_ssim(pred[i].numpy(), target[i].numpy())) < 1e-10
    assert torch.allclose(ssim(target, target), torch.ones(3, dtype=torch.float64))


def test_ssim_is_differentiable():
    pred, target = _pair((16, 16, 3))
    pred.requires_grad_(True)
    loss = 1 - ssim(pred, target)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_psnr_matches_scikit_image():
    pred, target = _pair((20, 30, 3))
    want = skm.peak_signal_noise_ratio(target.numpy(), pred.numpy(), data_range=1.0)
    got = psnr(pred, target)
    assert got.shape == () and abs(float(got) - want) < 1e-10
    # batch, another peak value
    pred, target = _pair((4, 8, 9, 3), seed=2)
    got = psnr(pred * 255, target * 255, max_value=255.0)
    assert got.shape == (4,)
    for i in range(4):
        want = skm.peak_signal_noise_ratio(target[i].numpy() * 255, pred[i].numpy() * 255, data_range=255.0)
        assert abs(float(got[i]) - want) < 1e-9
    assert math.isinf(float(psnr(target[0], target[0])))


def test_psnr_with_a_mask():
    pred, target = _pair((2, 16, 12, 3), seed=3)
    g = torch.Generator().manual_seed(4)
    mask = torch.rand((2, 16, 12), generator=g) > 0.5
    got = psnr(pred, target, mask=mask)
    for i in range(2):
        m = mask[i].numpy()
        want = skm.peak_signal_noise_ratio(target[i].numpy()[m], pred[i].numpy()[m], data_range=1.0)
        assert abs(float(got[i]) - want) < 1e-10
    # a float mask of 0/1 and a trailing channel give the same; single image too
    assert torch.allclose(psnr(pred, target, mask=mask.double()[..., None]), got)
    assert torch.allclose(psnr(pred[1], target[1], mask=mask[1]), got[1])


def test_bad_inputs():
    pred, target = _pair((12, 12, 3))
    for fn in (psnr, ssim):
        with pytest.raises(TypeError, match="pred"):
            fn(pred.numpy(), target)
        with pytest.raises(ValueError, match="target"):
            fn(pred, target[:-1])
        with pytest.raises(TypeError, match="target"):
            fn(pred, target.float())
        with pytest.raises(TypeError, match="pred"):
            fn((pred * 255).to(torch.uint8), (target * 255).to(torch.uint8))
        with pytest.raises(ValueError, match="pred"):
            fn(pred[0], target[0])
        with pytest.raises(ValueError, match="NaN"):
            fn(pred * float("nan"), target)
    with pytest.raises(ValueError, match="max_value"):
        psnr(pred, target, max_value=0)
    with pytest.raises(ValueError, match="mask"):
        psnr(pred, target, mask=torch.ones(12, 11, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        psnr(pred, target, mask=torch.zeros(12, 12, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        psnr(pred, target, mask=-torch.ones(12, 12))
    with pytest.raises(ValueError, match="11 x 11"):
        ssim(pred[:10], target[:10])
    with pytest.raises(ValueError, match="odd"):
        ssim(pred, target, win_size=10)
    with pytest.raises(ValueError, match="data_range"):
        ssim(pred, target, data_range=-1)
