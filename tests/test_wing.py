"""gshell.wing: wing geometry, the Cp generator, datasets and the ``gshell wing`` command."""
import math

import numpy as np
import pytest

pytest.importorskip("aerosandbox")
pytest.importorskip("neuralfoil")

from gshell.wing import WingSpec, naca4, wing_grid, random_wing, wing_cp, karman_tsien  # noqa: E402
from gshell.wing import aero, dataset  # noqa: E402


def _yt(x, t):
    return 5 * t * (0.2969 * np.sqrt(x) - 0.1260 * x - 0.3516 * x ** 2 + 0.2843 * x ** 3 - 0.1036 * x ** 4)


def test_naca4_matches_the_closed_form_thickness_and_camber():
    n = 64
    h = n // 2
    x = 0.5 * (1 - np.cos(np.pi * np.arange(h + 1) / h))        # LE -> TE stations
    sym = naca4("0012", n)
    assert sym.shape == (n, 2)
    np.testing.assert_allclose(sym[:h + 1][::-1, 0], x, atol=1e-15)
    np.testing.assert_allclose(sym[:h + 1][::-1, 1], _yt(x, 0.12), atol=1e-15)       # upper = +yt
    np.testing.assert_allclose(sym[h + 1:, 1], -_yt(x[1:h], 0.12), atol=1e-15)        # lower = -yt
    assert abs(_yt(1.0, 0.12)) < 1e-12                                                   # closed TE
    # cambered: pairs straddle the camber line, half their distance is yt (perpendicular offsets)
    c = naca4("naca2412", n)
    up, lo = c[1:h][::-1], c[h + 1:]                           # both at stations x[1:h]
    np.testing.assert_allclose(np.hypot(*(up - lo).T) / 2, _yt(x[1:h], 0.12), atol=1e-14)
    mid = (up + lo) / 2
    m, p = 0.02, 0.4
    yc = np.where(x[1:h] < p, m / p ** 2 * (2 * p * x[1:h] - x[1:h] ** 2),
                  m / (1 - p) ** 2 * (1 - 2 * p + 2 * p * x[1:h] - x[1:h] ** 2))
    np.testing.assert_allclose(mid[:, 0], x[1:h], atol=1e-15)
    np.testing.assert_allclose(mid[:, 1], yc, atol=1e-15)
    np.testing.assert_allclose(c[0], [1, 0], atol=1e-12)
    np.testing.assert_allclose(c[h], [0, 0], atol=1e-15)
    assert np.max(mid[:, 1]) == pytest.approx(0.02, abs=2e-4)


def test_wing_grid_geometry_is_measured_back():
    spec = WingSpec(airfoil="naca2412", semispan=6.0, root_chord=2.0, taper=0.4, sweep_deg=30.0,
                    dihedral_deg=5.0, twist_deg=-4.0, tip_airfoil="rae2822")
    g = wing_grid(spec, 20, 40)
    assert g.shape == (20, 40, 3) and g.dtype == np.float64
    le, te = g[:, 20], g[:, 0]
    y = le[:, 1]
    np.testing.assert_allclose(g[..., 1], y[:, None] * np.ones((1, 40)), atol=1e-15)  # x-z sections
    assert y[0] == 0 and y[-1] == pytest.approx(6.0) and np.all(np.diff(y) > 0)
    np.testing.assert_allclose(le[:, 0], y * math.tan(math.radians(30)), atol=1e-12)       # sweep
    np.testing.assert_allclose(le[:, 2], y * math.tan(math.radians(5)), atol=1e-12)        # dihedral
    d = te - le
    np.testing.assert_allclose(np.hypot(d[:, 0], d[:, 2]), 2.0 * (1 - 0.6 * y / 6), atol=1e-12)  # chord
    twist = np.degrees(np.arctan2(-d[:, 2], d[:, 0]))                                        # nose up > 0
    np.testing.assert_allclose(twist, -4.0 * y / 6, atol=1e-10)
    # periodic: the closing point is not repeated, neighbours across the seam are close
    seam = np.linalg.norm(g[:, -1] - g[:, 0], axis=-1)
    steps = np.linalg.norm(np.diff(g, axis=1), axis=-1)
    assert np.all(seam > 0) and np.all(seam <= steps.max(1))
    # the upper surface (first half) is above the lower at the same station, in the section frame
    assert np.all(g[:, 1:20, 2] - g[:, 39:20:-1, 2] > 0)


def test_random_wings_are_valid_grids_for_riemann_features():
    torch = pytest.importorskip("torch")
    from gshell.riemann import grid_features
    rng = np.random.default_rng(11)
    for _ in range(15):
        spec = random_wing(rng)
        assert 5 <= spec.aspect_ratio <= 12 and 0 <= spec.sweep_deg <= 35
        f = grid_features(torch.from_numpy(wing_grid(spec, 16, 32)), periodic_v=True)
        n = f["normals"].numpy()
        assert np.isfinite(n).all()
        # outward: the upper surface normals point up, the lower ones down (mid chord)
        assert np.all(n[:, 8, 2] * n[:, 24, 2] < 0)


def test_karman_tsien():
    cp0 = np.linspace(-2, 1, 7)
    np.testing.assert_allclose(karman_tsien(cp0, 0.0), cp0, atol=1e-15)
    # hand value: M = 0.5, Cp0 = -1: beta = 0.8660254, M^2/(1+beta) = 0.1339746,
    # Cp = -1 / (0.8660254 - 0.0669873) = -1.2515055
    assert karman_tsien(-1.0, 0.5) == pytest.approx(-1.2515055, abs=1e-6)
    # small disturbances: Prandtl-Glauert Cp0 / beta
    assert karman_tsien(1e-6, 0.6) == pytest.approx(1e-6 / 0.8, rel=1e-6)
    with pytest.raises(ValueError, match="mach"):
        karman_tsien(-0.5, 1.0)


def test_cp_integrates_to_the_vortex_lattice_lift():
    """The surface Cp integrated over the wing (pressure force on the lift direction / q S) gives
    the lattice CL within 2% + 0.005. Each station's Cp is matched to the lattice's section lift on
    the same discrete section, so what remains is the final NeuralFoil call against the 1-degree
    table interpolation, the trapezoid quadrature of the load over the stations against the
    lattice's strips and the 3-D quad area vectors against the section polygons (all << 1%
    measured); a wrong upper/lower placement, normal, twist or spanwise interpolation breaks it."""
    spec = WingSpec(airfoil="naca2412", semispan=5.0, root_chord=1.6, taper=0.45, sweep_deg=25.0,
                    dihedral_deg=4.0, twist_deg=-3.0, tip_airfoil="clarky")
    r = aero.wing_cp_conditions(spec, [0.2, 0.5, 0.65], [2.0, 5.0, 1.0], n_span=16, n_chord=48)
    assert r["cp"].shape == (3, 16, 48)
    assert not r["clipped"].any() and not r["vacuum_limited"].any()
    np.testing.assert_allclose(r["cl_cp"], r["cl_vlm"], rtol=0.02, atol=0.005)
    assert np.all(r["cl_vlm"] > 0.1)
    # swapping the upper and lower surface Cp gives a very different lift (the check can fail)
    cp = r["cp"][0]
    swapped = np.concatenate([cp[:, :1], cp[:, 25:][:, ::-1], cp[:, 24:25], cp[:, 1:24][:, ::-1]], 1)
    cl_sw = aero.surface_lift_coefficient(r["points"], swapped, 2.0, spec.area)
    assert abs(cl_sw - r["cl_vlm"][0]) > 0.5 * abs(r["cl_vlm"][0])
    # the wing loading falls to the tip, the section lift follows the lattice
    np.testing.assert_allclose(r["cl_section"], r["cl_section_target"], atol=0.01)


def test_vortex_lattice_lift_slope_and_compressibility():
    """An untwisted, unswept rectangular NACA 0012 wing: CL_alpha close to Helmbold's
    2 pi A / (2 + sqrt(A^2 + 4)), and Goethert's Mach effect lies between 1 and 1/beta."""
    spec = WingSpec(airfoil="naca0012", semispan=4.0, root_chord=1.0, taper=1.0, sweep_deg=0.0,
                    dihedral_deg=0.0, twist_deg=0.0)
    A = spec.aspect_ratio
    r = aero.wing_cp_conditions(spec, [0.1, 0.6, 0.1], [4.0, 4.0, 0.0], n_span=12, n_chord=32)
    slope = r["cl_vlm"][0] / math.radians(4.0)
    helmbold = 2 * math.pi * A / (2 + math.sqrt(A * A + 4))
    assert slope == pytest.approx(helmbold, rel=0.05)
    ratio = r["cl_vlm"][1] / r["cl_vlm"][0]
    assert 1.05 < ratio < math.sqrt(1 - 0.01) / math.sqrt(1 - 0.36)
    # symmetric wing at zero incidence: no lift, upper and lower Cp equal
    assert abs(r["cl_vlm"][2]) < 1e-6 and abs(r["cl_cp"][2]) < 5e-3
    cp = r["cp"][2]
    np.testing.assert_allclose(cp[:, 1:16], cp[:, 31:16:-1], atol=0.03)


def test_dataset_contract_determinism_and_cache(tmp_path, monkeypatch):
    kw = dict(seed=3, n_span=6, n_chord=16, progress=False)
    a = dataset.generate(2, 2, **kw)
    types = {"points": (np.float32, (2, 6, 16, 3)), "wing": (np.int64, (4,)), "mach": (np.float32, (4,)),
             "alpha": (np.float32, (4,)), "cp": (np.float32, (4, 6, 16)), "cl_vlm": (np.float32, (4,)),
             "cl_cp": (np.float32, (4,)), "reference_area": (np.float32, (2,))}
    for k, (dt, shape) in types.items():
        assert a[k].dtype == dt and a[k].shape == shape, k
    assert a["params"].shape == (2, len(a["param_names"])) and a["params"].dtype == np.float32
    np.testing.assert_array_equal(a["wing"], [0, 0, 1, 1])
    assert np.all((a["mach"] >= 0.1) & (a["mach"] <= 0.7))
    np.testing.assert_allclose(a["cl_cp"], a["cl_vlm"], rtol=0.03, atol=0.01)
    area = a["params"][:, 0] * a["params"][:, 1] * (1 + a["params"][:, 2]) / 2
    np.testing.assert_allclose(a["reference_area"], area, rtol=1e-6)
    b = dataset.generate(2, 2, **kw)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    path = str(tmp_path / "w.npz")
    c = dataset.generate(2, 2, cache=path, **kw)
    monkeypatch.setattr(aero, "wing_cp_conditions", lambda *x, **y: pytest.fail("regenerated"))
    d = dataset.generate(2, 2, cache=path, **kw)                # loaded, not regenerated
    for k in a:
        np.testing.assert_array_equal(c[k], d[k])
    e = dataset.load(path)
    assert set(dataset.KEYS) <= set(e)
    with pytest.raises(pytest.fail.Exception):
        dataset.generate(2, 2, cache=path, **dict(kw, seed=4))  # other arguments: regenerates


@pytest.mark.parametrize("make, err, match", [
    (lambda: WingSpec(semispan=float("nan")), ValueError, "semispan"),
    (lambda: WingSpec(semispan=-1.0), ValueError, "semispan"),
    (lambda: WingSpec(root_chord=0.0), ValueError, "root_chord"),
    (lambda: WingSpec(airfoil="notanairfoil"), ValueError, "airfoil"),
    (lambda: WingSpec(tip_airfoil=12), TypeError, "tip_airfoil"),
    (lambda: WingSpec(sweep_deg=80), ValueError, "sweep_deg"),
    (lambda: naca4("24x2"), ValueError, "code"),
    (lambda: naca4("2412", 31), ValueError, "n"),
    (lambda: wing_grid(WingSpec(), 32, 63), ValueError, "n_chord"),
    (lambda: wing_grid({"airfoil": "naca2412"}), TypeError, "spec"),
    (lambda: wing_cp(WingSpec(), 1.0, 2.0), ValueError, "mach"),
    (lambda: wing_cp(WingSpec(), float("nan"), 2.0), ValueError, "mach"),
    (lambda: wing_cp(WingSpec(), 0.5, 40.0), ValueError, "alpha_deg"),
    (lambda: wing_cp(WingSpec(), 0.5, 2.0, re_per_meter_per_mach=-1.0), ValueError, "re_per_meter"),
    (lambda: dataset.generate(0, 2), ValueError, "n_wings"),
    (lambda: random_wing(3), TypeError, "rng"),
])
def test_bad_input_raises_clear_errors(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_cli_wing_features_and_dataset(tmp_path, capsys):
    from gshell.cli import main
    feats = str(tmp_path / "f.npz")
    assert main(["wing", "features", "--airfoil", "naca4412", "--sweep", "30", "--n-span", "8",
                 "--n-chord", "24", "--out", feats]) == 0
    z = np.load(feats)
    assert z["points"].shape == (8, 24, 3) and z["christoffel"].shape == (8, 24, 2, 2, 2)
    grid = str(tmp_path / "g.npy")
    np.save(grid, z["points"])
    assert main(["wing", "features", grid, "--out", str(tmp_path / "f2.npz")]) == 0
    np.testing.assert_allclose(np.load(str(tmp_path / "f2.npz"))["metric"], z["metric"])
    assert "K in" in capsys.readouterr().out
    assert main(["wing", "features", "--semispan", "-2", "--out", str(tmp_path / "f3.npz")]) == 2
    assert "semispan" in capsys.readouterr().err
    out = str(tmp_path / "d.npz")
    assert main(["-q", "wing", "dataset", out, "--wings", "1", "--conditions", "2", "--n-span", "6",
                 "--n-chord", "16"]) == 0
    assert dataset.load(out)["cp"].shape == (2, 6, 16)
    assert main(["wing", "dataset", out, "--wings", "2", "--conditions", "2"]) == 2   # other settings
    assert "exists" in capsys.readouterr().err
