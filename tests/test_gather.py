"""gshell._gather.take: a[idx] with a backward that sums in index order (bit-identical run to
run on the CPU, at any thread count)."""
import numpy as np
import pytest
import torch

from gshell._gather import take


def _threads(n):
    class _Ctx:
        def __enter__(self):
            self.old = torch.get_num_threads()
            torch.set_num_threads(n)

        def __exit__(self, *exc):
            torch.set_num_threads(self.old)
    return _Ctx()


@pytest.mark.parametrize("shape", [(7,), (7, 3), (7, 2, 2)])
def test_take_values_and_gradient(shape):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(shape, dtype=torch.float64, generator=g, requires_grad=True)
    idx = torch.randint(0, 7, (5, 4), generator=g)
    out = take(a, idx)
    assert out.shape == (5, 4) + shape[1:]
    torch.testing.assert_close(out, a[idx], rtol=0, atol=0)
    torch.autograd.gradcheck(lambda x: take(x, idx), (a,))
    mask = torch.tensor([True, False, True, True, False, False, True])
    torch.testing.assert_close(take(a, mask), a[mask], rtol=0, atol=0)


def test_take_backward_sums_in_index_order_with_threads():
    # many duplicates and values of very different size, so that the order of the sums shows
    n, m = 1000, 200000
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, n, (m,), generator=g)
    up = (torch.randn(m, generator=g) * torch.exp(3 * torch.randn(m, generator=g))).float()
    ref = np.zeros(n, np.float32)
    np.add.at(ref, idx.numpy(), up.numpy())  # serial float32 sums in index order
    with _threads(2):
        for _ in range(3):
            a = torch.zeros(n, requires_grad=True)
            take(a, idx).backward(up)
            np.testing.assert_array_equal(a.grad.numpy(), ref)
        a3 = torch.zeros(n, 3, requires_grad=True)
        take(a3, idx).backward(up[:, None].expand(-1, 3).contiguous())
        for c in range(3):
            np.testing.assert_array_equal(a3.grad[:, c].numpy(), ref)
