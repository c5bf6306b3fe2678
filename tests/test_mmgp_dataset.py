"""Tests of the Tensile2d-like dataset generator (gshell.mmgp.dataset)."""
import os

import numpy as np
import pytest

pytest.importorskip("triangle")
pytest.importorskip("skfem")
scipy_sparse = pytest.importorskip("scipy.sparse")
csgraph = pytest.importorskip("scipy.sparse.csgraph")

from gshell.mmgp import dataset  # noqa: E402
from gshell.mmgp.dataset import describe, generate, make_plate, solve_elasticity  # noqa: E402

H = 0.06  # coarse meshes keep the tests fast


def _areas(p, t):
    a, b, c = p[t[:, 0]], p[t[:, 1]], p[t[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _boundary_components(t):
    e = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    uniq, cnt = np.unique(e, axis=0, return_counts=True)
    b = uniq[cnt == 1]
    verts, inv = np.unique(b, return_inverse=True)
    inv = inv.reshape(-1, 2)
    # every boundary vertex on exactly two boundary edges: the boundary is a union of loops
    assert np.all(np.bincount(inv.ravel()) == 2)
    g = scipy_sparse.coo_matrix((np.ones(len(b)), (inv[:, 0], inv[:, 1])),
                                shape=(len(verts), len(verts)))
    return csgraph.connected_components(g, directed=False)[0]


def _rectangle(w=2.0, h=1.0, area=0.01):
    import triangle as tr
    v = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    out = tr.triangulate({"vertices": v, "segments": [[0, 1], [1, 2], [2, 3], [3, 0]]},
                         "pq30a%gQ" % area)
    return out["vertices"].astype(np.float64), out["triangles"].astype(np.int64)


def test_plates_are_disks_with_positive_areas_and_varying_node_counts():
    counts = []
    for s in range(6):
        p, t, outline = make_plate(s, mesh_size=H)
        assert p.dtype == np.float64 and p.shape[1] == 2
        assert t.dtype == np.int64 and t.shape[1] == 3
        assert outline.ndim == 2 and outline.shape[1] == 2
        assert np.all(_areas(p, t) > 0)
        assert _boundary_components(t) == 1
        assert len(np.unique(t)) == len(p)  # no unused vertices
        assert p[:, 1].min() == 0.0 and p[:, 1].max() == 1.0
        assert -0.3 < p[:, 0].min() and p[:, 0].max() < 1.3
        counts.append(len(p))
    assert len(set(counts)) > 1
    # the default mesh size gives ~1-3k nodes
    p, _, _ = make_plate(0)
    assert 1000 <= len(p) <= 3000


def test_plates_have_four_corners_and_smooth_sides():
    from gshell.mmgp.morph import boundary_corners

    for s in range(8):
        for h in (H, 0.03):
            p, t, outline = make_plate(s, mesh_size=h)
            c = boundary_corners(p, t)
            assert len(c) == 4
            # CCW from the lower left: bottom-left, bottom-right, top-right, top-left
            np.testing.assert_array_equal(p[c, 1], [0.0, 0.0, 1.0, 1.0])
            assert p[c[0], 0] < p[c[1], 0] and p[c[3], 0] < p[c[2], 0]
    y = np.linspace(0, 1, 5)
    np.testing.assert_allclose(dataset.side_offset(y, 0.1, -0.1, 0.0, 0.0, 0.5), 0.1 - 0.2 * y)
    np.testing.assert_allclose(dataset.side_offset(0.5, 0.0, 0.0, 0.05, 0.1, 0.5), -0.05)


def test_make_plate_accepts_generators_and_is_deterministic():
    a = make_plate(np.random.default_rng(3), mesh_size=H)
    b = make_plate(3, mesh_size=H)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_tension_patch_test_is_exact():
    """Uniform tension ty on top, bottom on rollers (u_y = 0) with one pin (u_x = 0): uniform
    syy = ty, u_y = ty y / E, u_x = -nu ty x / E (plane stress), exactly with P1."""
    p, t = _rectangle()
    E, nu, ty = 2.0, 0.3, 0.7
    r = solve_elasticity(p, t, (0.0, ty), E=E, nu=nu, bottom="roller")
    assert r["u"].shape == (len(p), 2) and r["sigma"].shape == (len(p), 3)
    assert r["sigma_vm"].shape == (len(p),)
    np.testing.assert_allclose(r["sigma"], np.tile([0.0, ty, 0.0], (len(p), 1)), atol=1e-10)
    np.testing.assert_allclose(r["u"][:, 1], ty * p[:, 1] / E, atol=1e-10)
    np.testing.assert_allclose(r["u"][:, 0], -nu * ty * p[:, 0] / E, atol=1e-10)
    np.testing.assert_allclose(r["sigma_vm"], ty, atol=1e-10)


def test_clamped_solution_is_fixed_at_bottom_and_balances_the_load():
    p, t = _rectangle(1.0, 1.0, 0.005)
    r = solve_elasticity(p, t, (0.2, 1.0))
    bottom = p[:, 1] == 0.0
    assert np.all(r["u"][bottom] == 0.0)
    top = p[:, 1] == 1.0
    assert np.all(r["u"][top, 1] > 0) and np.mean(r["u"][top, 0]) > 0
    # Equilibrium: the mean of syy over a horizontal cut near mid height is ty (here away from
    # the clamped corners' singularities, the P1 nodal average is close).
    mid = np.abs(p[:, 1] - 0.5) < 0.1
    assert abs(np.mean(r["sigma"][mid, 1]) - 1.0) < 0.1


def test_body_force_superposes_and_carries_the_weight():
    """A uniform body force (the "gravity" family's self-weight) adds linearly to the traction's
    solution, and a column on rollers carries its weight: syy = -g (1 - y) at mid height."""
    p, t = _rectangle(1.0, 1.0, 0.005)
    g = 1.5
    w = solve_elasticity(p, t, (0.0, 0.0), body_force=(0.0, -g), bottom="roller")
    mid = np.abs(p[:, 1] - 0.5) < 0.05
    np.testing.assert_allclose(np.mean(w["sigma"][mid, 1]), -0.5 * g, rtol=0.05)
    assert np.all(w["u"][p[:, 1] == 1.0, 1] < 0)                        # the top sinks
    a = solve_elasticity(p, t, (0.2, 0.0))
    b = solve_elasticity(p, t, (0.0, 0.0), body_force=(0.0, -g))
    ab = solve_elasticity(p, t, (0.2, 0.0), body_force=(0.0, -g))
    np.testing.assert_allclose(ab["u"], a["u"] + b["u"], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(solve_elasticity(p, t, (0.2, 0.0), body_force=(0.0, 0.0))["u"],
                                  a["u"])
    with pytest.raises(ValueError, match="body_force"):
        solve_elasticity(p, t, (0.0, 1.0), body_force=(0.0,))
    with pytest.raises(ValueError, match="body_force"):
        solve_elasticity(p, t, (0.0, 1.0), body_force=(0.0, np.inf))


def test_hexagons_are_convex_with_six_corners_and_reproducible():
    from gshell.mmgp.morph import boundary_corners

    for seed in range(5):
        p, t, outline = dataset.make_hexagon(seed, mesh_size=H)
        assert np.all(_areas(p, t) > 0) and _boundary_components(t) == 1
        c = boundary_corners(p, t, dataset.CORNER_TURN["hexagon"])
        assert len(c) == 6
        # convex: every boundary vertex is on the hull side of every outline edge
        e = np.roll(outline, -1, 0) - outline
        cross = e[:, None, 0] * (p[None, :, 1] - outline[:, None, 1]) \
            - e[:, None, 1] * (p[None, :, 0] - outline[:, None, 0])
        assert cross.min() > -1e-9
        assert abs(p[:, 1].min()) < 1e-12 and abs(p[:, 1].max() - 1.0) < 1e-12
    a, b = dataset.make_hexagon(np.random.default_rng(4), H), dataset.make_hexagon(4, H)
    np.testing.assert_array_equal(a[0], b[0])


def test_families_draw_their_own_samples_and_cache_apart(tmp_path):
    a = generate(2, seed=0, progress=False, mesh_size=H, family="gravity")
    b = generate(2, seed=0, progress=False, mesh_size=H)
    assert a[0]["scalars_in"].shape == (2,) and b[0]["scalars_in"].shape == (3,)
    lo, hi = dataset._GRAVITY_LOADS["tx"], dataset._GRAVITY_LOADS["g"]
    assert all(lo[0] <= s["scalars_in"][0] <= lo[1] and hi[0] <= s["scalars_in"][1] <= hi[1]
               for s in a)
    for fam in ("plate", "hexagon"):
        generate(2, seed=0, progress=False, mesh_size=H, family=fam, cache_dir=tmp_path)
    names = sorted(f.name for f in tmp_path.iterdir())
    assert len(names) == 4 and sum(n.startswith("hexagon_") for n in names) == 2
    again = generate(2, seed=0, progress=False, mesh_size=H, family="hexagon", cache_dir=tmp_path)
    fresh = generate(2, seed=0, progress=False, mesh_size=H, family="hexagon")
    np.testing.assert_array_equal(again[1]["fields"]["u"], fresh[1]["fields"]["u"])
    d = describe(a, family="gravity")
    assert d["scalars_in"]["names"] == ["tx", "g"]
    assert describe(a)["scalars_in"]["names"] == ["x0", "x1"]
    with pytest.raises(ValueError, match="family"):
        describe(a, family="plate")          # 2 inputs, the plates have 3
    with pytest.raises(ValueError, match="family"):
        generate(1, family=3, progress=False)


def test_scaled_inputs_carry_what_the_solution_depends_on():
    """scaled_inputs' premise holds for the solver: u depends on the load only through t / E
    and sigma only through t; the map is one-to-one."""
    p, t = make_plate(3, mesh_size=0.1)[:2]
    a = solve_elasticity(p, t, (0.05, 0.8), E=0.9)
    b = solve_elasticity(p, t, (0.1, 1.6), E=1.8)        # same t / E, twice t
    np.testing.assert_allclose(b["u"], a["u"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b["sigma_vm"], 2.0 * a["sigma_vm"], rtol=1e-9)
    x = np.array([[0.05, 0.8, 0.9], [-0.1, 1.5, 1.2]])
    y = dataset.scaled_inputs(x)
    np.testing.assert_allclose(y, [[0.05 / 0.9, 0.8 / 0.9, 0.9], [-0.1 / 1.2, 1.5 / 1.2, 1.2]])
    np.testing.assert_allclose(np.c_[y[:, :2] * y[:, 2:], y[:, 2]], x)      # inverse
    assert np.array_equal(dataset.scaled_inputs(x[1]), y[1]) and x[0, 0] == 0.05   # no in-place
    with pytest.raises(ValueError, match=r"shape \(3,\) or \(n, 3\)"):
        dataset.scaled_inputs(x[:, :2])
    with pytest.raises(ValueError, match="finite"):
        dataset.scaled_inputs([0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="E"):
        dataset.scaled_inputs([0.0, 1.0, 0.0])


def test_solve_rejects_bad_input():
    p, t = _rectangle()
    with pytest.raises(ValueError, match="traction"):
        solve_elasticity(p, t, (1.0,))
    with pytest.raises(ValueError, match="E"):
        solve_elasticity(p, t, (0.0, 1.0), E=-1.0)
    with pytest.raises(ValueError, match="nu"):
        solve_elasticity(p, t, (0.0, 1.0), nu=0.5)
    with pytest.raises(ValueError, match="counterclockwise"):
        solve_elasticity(p, t[:, [0, 2, 1]], (0.0, 1.0))
    with pytest.raises(ValueError, match="triangles"):
        solve_elasticity(p, t + len(p), (0.0, 1.0))


def test_generate_layout_and_reproducibility():
    a = generate(3, seed=7, progress=False, mesh_size=H)
    b = generate(5, seed=7, progress=False, mesh_size=H)
    c = generate(3, seed=7, progress=False, mesh_size=H)
    assert len(a) == 3 and len(b) == 5
    for s in a:
        n = len(s["points"])
        assert s["points"].shape == (n, 2) and s["triangles"].dtype == np.int64
        assert s["scalars_in"].shape == (3,)
        tx, ty, e = s["scalars_in"]
        assert -0.3 <= tx <= 0.3 and 0.5 <= ty <= 1.5 and 0.8 <= e <= 1.2
        assert s["fields"]["u"].shape == (n, 2) and s["fields"]["sigma_vm"].shape == (n,)
        assert s["scalars_out"]["max_von_mises"] == pytest.approx(s["fields"]["sigma_vm"].max())
        assert s["scalars_out"]["max_u_norm"] == pytest.approx(
            np.linalg.norm(s["fields"]["u"], axis=1).max())
    for x, y, z in zip(a, b, c):
        for key in ("points", "triangles", "scalars_in"):
            np.testing.assert_array_equal(x[key], y[key])
            np.testing.assert_array_equal(x[key], z[key])
        for key in ("u", "sigma_vm"):
            np.testing.assert_array_equal(x["fields"][key], y["fields"][key])
        assert x["scalars_out"] == y["scalars_out"]
    assert len({len(s["points"]) for s in b}) > 1
    other = generate(1, seed=8, progress=False, mesh_size=H)[0]
    assert not np.array_equal(other["scalars_in"], a[0]["scalars_in"])


def test_cache_round_trip(tmp_path, monkeypatch):
    first = generate(3, seed=1, cache_dir=tmp_path, progress=False, mesh_size=H)
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 3 and all(f.endswith(".npz") for f in files)  # no temp files left

    def boom(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(dataset, "solve_elasticity", boom)
    monkeypatch.setattr(dataset, "make_plate", boom)
    second = generate(3, seed=1, cache_dir=tmp_path, progress=False, mesh_size=H)
    for x, y in zip(first, second):
        for key in ("points", "triangles", "scalars_in"):
            np.testing.assert_array_equal(x[key], y[key])
            assert x[key].dtype == y[key].dtype
        for key in ("u", "sigma_vm"):
            np.testing.assert_array_equal(x["fields"][key], y["fields"][key])
        assert x["scalars_out"] == y["scalars_out"]
    # a new sample index is not cached: it must be computed
    with pytest.raises(AssertionError, match="cache"):
        generate(4, seed=1, cache_dir=tmp_path, progress=False, mesh_size=H)


def test_progress_bar_and_describe(capsys):
    s = generate(2, seed=0, progress=True, mesh_size=H)
    assert "tensile2d" in capsys.readouterr().err
    d = describe(s)
    assert d["n_samples"] == 2
    assert d["n_nodes"]["min"] == min(len(x["points"]) for x in s)
    assert d["n_nodes"]["max"] == max(len(x["points"]) for x in s)
    assert set(d["scalars_out"]) == {"max_von_mises", "max_u_norm"}
    assert len(d["scalars_in"]["min"]) == 3
    with pytest.raises(ValueError, match="samples"):
        describe([])


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": -2}, {"n": 1, "mesh_size": 0.0},
                                    {"n": 1, "mesh_size": -0.1}, {"n": 1, "mesh_size": float("nan")},
                                    {"n": 1, "mesh_size": 5.0}, {"n": 1, "seed": -1}])
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="Expected"):
        generate(progress=False, **kwargs)


def test_bad_argument_types_raise_type_error():
    with pytest.raises(TypeError, match="n"):
        generate(2.5, progress=False)
    with pytest.raises(TypeError, match="mesh_size"):
        generate(1, mesh_size="fine", progress=False)
    with pytest.raises(ValueError, match="mesh_size"):
        make_plate(0, mesh_size=0.0)
    with pytest.raises(TypeError, match="rng_or_seed"):
        make_plate("seed")
