"""gshell.mmgp.evaluate: the PLAID-style metrics on hand-computed cases."""
import numpy as np
import pytest

from gshell.mmgp import evaluate as ev


def test_field_rrmse_by_hand():
    y = [np.array([1.0, -2.0, 0.5]), np.array([[3.0, 0.0], [0.0, 1.0]])]
    p = [y[0] + np.array([0.1, 0.0, -0.1]), y[1] + 0.3]
    t0 = (0.01 + 0.01) / (3 * 4.0)
    t1 = (4 * 0.09) / (2 * 9.0)
    assert ev.field_rrmse(p, y) == pytest.approx(np.sqrt((t0 + t1) / 2))
    assert ev.field_rrmse(y, y) == 0.0
    with pytest.raises(ValueError, match="shape"):
        ev.field_rrmse([y[0][:2]], [y[0]])


def test_scalar_metrics_by_hand():
    y = np.array([1.0, 2.0, 4.0])
    p = np.array([1.1, 1.8, 4.0])
    assert ev.scalar_rrmse(p, y) == pytest.approx(np.sqrt((0.01 + 0.01 + 0) / 3))
    assert ev.q2(y, y) == 1.0
    assert ev.q2([np.full(3, y.mean())], [y]) == pytest.approx(0.0)
    assert ev.coverage([y - 0.5], [y + 0.5], [p]) == 1.0
    assert ev.coverage([y], [y + 0.05], [p]) == pytest.approx(1 / 3)


def test_evaluate_on_samples():
    samples = [{"fields": {"f": np.ones(4)}, "scalars_out": {"s": 2.0}} for _ in range(2)]
    preds = [{"f": {"mean": np.ones(4), "q025": np.zeros(4), "q975": np.full(4, 2.0)},
              "s": {"mean": 2.2}} for _ in range(2)]
    out = ev.evaluate(preds, samples)
    assert out["f"]["rrmse"] == 0 and out["f"]["coverage"] == 1.0
    assert out["s"]["rrmse"] == pytest.approx(0.1) and out["s"]["coverage"] is None
