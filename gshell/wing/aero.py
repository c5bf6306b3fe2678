"""Surface pressure coefficient of a wing, with no download: vortex lattice + NeuralFoil sections.

The model (a strip theory; quick, smooth in the design parameters, not CFD):

1. Spanwise lift. aerosandbox's ``VortexLatticeMethod`` on the full (mirrored) wing gives the
   lift per unit span ``l(y)``. Compressibility enters by Goethert's rule: the lattice is solved
   for the wing stretched by ``1/beta`` in x (``beta = sqrt(1 - M^2)``), and the compressible
   section lift coefficient is ``cl(y) = l''(y) / (q c(y))``, the wing's ``CL = CL''_stretched /
   beta``. Both are linear, inviscid theory.
2. Sections. At each grid station NeuralFoil (incompressible, viscous) gives the boundary-layer
   edge velocities ``u_e/V`` on 32 fixed x/c stations of the upper and lower surface, for the
   local airfoil (root and tip airfoils blended in Kulfan weights) at the local Reynolds number.
   ``Cp0 = 1 - (u_e/V)^2`` is interpolated onto the grid's chordwise points in the signed
   velocity (upper ``u_e`` > 0, lower < 0, so the stagnation point lies where the interpolant
   crosses 0), linearly in ``±sqrt(x/c)`` (about the arc length from the leading edge; NeuralFoil
   has no station ahead of x/c = 0.0156, so the nose between them is this interpolation), and
   corrected by Karman–Tsien, :func:`karman_tsien`.
3. Matching. The effective angle of attack of each station is the one at which this Cp,
   integrated round the station's physical (twisted) section and projected on the lift direction,
   gives the vortex-lattice ``cl(y)``: NeuralFoil is evaluated on a table of angles (one batched
   call for all stations and conditions of a wing), the section lift interpolated on the rising
   branch of the table, and NeuralFoil run once more at the matched angles.

So the Cp of a station integrates to the lattice's section lift by construction (up to the
table's interpolation); what :func:`wing_cp` reports as ``cl_cp`` is the lift of the whole
surface grid, pressure force ``-sum Cp n dA`` projected on the lift direction over ``q S``,
which checks the assembly (geometry, upper/lower placement, spanwise interpolation and
quadrature) against ``cl_vlm``. A target beyond the section's maximum lift (stall) is clipped to
the table's maximum and flagged in ``clipped``. Where Karman–Tsien would give a Cp below vacuum
(``-2 / (gamma M^2)``, strong supersonic pockets the model does not describe) Cp0 is floored so
Cp stops at vacuum, flagged in ``vacuum_limited``; keep Mach and lift moderate (the dataset's
conditions do) and this does not happen.

Flight conditions: ``Re = M a c / nu`` with a cruise atmosphere (about 11 km: ``a`` = 295 m/s,
``nu`` = 3.9e-5 m^2/s) and the chord in metres, unless ``re_per_meter_per_mach`` is given; Mach
numbers below 0.1 take the Reynolds number of Mach 0.1.
"""
import math
import warnings

import numpy as np

from gshell.wing.geometry import WingSpec, span_fractions, _check_counts

__all__ = ["wing_cp", "wing_cp_conditions", "karman_tsien", "surface_lift_coefficient",
           "TABLE_ALPHAS", "MAX_MACH"]

SPEED_OF_SOUND = 295.0
KINEMATIC_VISCOSITY = 3.9e-5
MAX_MACH = 0.9
#: NeuralFoil's table of effective angles of attack (degrees) for the matching.
TABLE_ALPHAS = np.arange(-10.0, 20.0 + 1e-9, 1.0)
_NF_MODEL = "large"
_VLM_SPAN, _VLM_CHORD = 12, 4


def karman_tsien(cp0, mach):
    """Karman–Tsien compressibility correction of an incompressible pressure coefficient.

    ``Cp = Cp0 / (beta + M^2 / (1 + beta) * Cp0 / 2)``, ``beta = sqrt(1 - M^2)``; ``mach`` in
    [0, 1), broadcast against ``cp0``. Returns float64 ndarray.
    """
    mach = np.asarray(mach, dtype=np.float64)
    if not np.all(np.isfinite(mach)) or np.any(mach < 0) or np.any(mach >= 1):
        raise ValueError("Expected mach in [0, 1) (subsonic) but got %r" % (mach.tolist(),))
    cp0 = np.asarray(cp0, dtype=np.float64)
    beta = np.sqrt(1.0 - mach ** 2)
    return cp0 / (beta + mach ** 2 / (1.0 + beta) * cp0 / 2.0)


def _karman_tsien_limited(cp0, mach):
    """Karman–Tsien with Cp0 floored where the corrected Cp would pass vacuum, ``-2 / (gamma M^2)``
    (the formula's denominator vanishes a little beyond): returns (cp, floored mask)."""
    mach = np.asarray(mach, dtype=np.float64)
    beta = np.sqrt(1.0 - mach ** 2)
    k = mach ** 2 / (2.0 * (1.0 + beta))
    cp_vac = -2.0 / (1.4 * np.maximum(mach, 1e-6) ** 2)
    floor = cp_vac * beta / (1.0 - k * cp_vac)
    floored = cp0 < floor
    return karman_tsien(np.maximum(cp0, floor), mach), floored


def _lift_dir(alpha_deg):
    a = np.radians(alpha_deg)
    return np.stack([-np.sin(a), np.zeros_like(a), np.cos(a)], -1)


def surface_lift_coefficient(points, cp, alpha_deg, area):
    """Lift coefficient of a pressure distribution on a wing grid.

    Args:
        points: (n_span, n_chord, 3) grid of :func:`wing_grid` (periodic along axis 1).
        cp: (..., n_span, n_chord) pressure coefficients at the points.
        alpha_deg: (...) angle of attack, degrees (freestream in the x–z plane).
        area: reference area.
    Returns:
        (...) float64: ``(-sum over quads of mean(Cp) * outward area vector) . lift_dir / area``.
    """
    p = np.asarray(points, dtype=np.float64)
    q = np.roll(p, -1, axis=1)
    a, b, c, d = p[:-1], p[1:], np.roll(p[1:], -1, axis=1), q[:-1]   # quad corners
    # outward for the upper TE -> LE -> lower loop: spanwise x chordwise
    avec = 0.5 * np.cross(c - a, d - b)
    cp = np.asarray(cp, dtype=np.float64)
    cq = 0.25 * (cp[..., :-1, :] + cp[..., 1:, :] + np.roll(cp[..., 1:, :], -1, -1)
                 + np.roll(cp[..., :-1, :], -1, -1))
    force = -np.einsum("...ij,ijk->...k", cq, avec)
    return np.einsum("...k,...k->...", force, _lift_dir(np.asarray(alpha_deg, np.float64))) / area


def _kulfan(spec, eta):
    """Kulfan parameters of the sections at eta, each (n, ...) for a vectorised NeuralFoil call."""
    import aerosandbox as asb
    from gshell.wing.geometry import airfoil_surfaces

    def fit(name):
        sec = airfoil_surfaces(name, 160)
        coords = np.concatenate([sec, sec[:1]], 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            k = asb.Airfoil(coordinates=coords).to_kulfan_airfoil(n_weights_per_side=8)
        return {key: np.asarray(v, np.float64) for key, v in k.kulfan_parameters.items()}
    root = fit(spec.airfoil)
    tip = root if spec.tip_airfoil is None else fit(spec.tip_airfoil)
    w = np.asarray(eta, np.float64)
    return {key: (1 - w).reshape((-1,) + (1,) * root[key].ndim) * root[key]
            + w.reshape((-1,) + (1,) * root[key].ndim) * tip[key] for key in root}


def _neuralfoil(kulfan, alpha, re):
    """Signed edge velocities on the 32 NeuralFoil stations: (N, 32) upper (> 0), lower (< 0).
    ``kulfan`` holds (N, 8) weights and (N,) LE weight / TE thickness."""
    import neuralfoil as nf
    # NeuralFoil indexes weights as [i] -> the weight arrays are (8, N) for N cases
    kulfan = {k: (v.T if v.ndim == 2 else v) for k, v in kulfan.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = nf.get_aero_from_kulfan_parameters(kulfan, alpha=alpha, Re=re, model_size=_NF_MODEL)
    n = len(nf.bl_x_points)
    up = np.stack([r["upper_bl_ue/vinf_%d" % i] for i in range(n)], -1)
    lo = np.stack([r["lower_bl_ue/vinf_%d" % i] for i in range(n)], -1)
    return up, lo, np.asarray(r["CL"]), np.asarray(r["analysis_confidence"])


def _cp0_on_grid(up, lo, x_unit):
    """Incompressible Cp at the grid's points from signed edge velocities.

    up, lo: (S, ..., 32) signed u_e/V on NeuralFoil's stations; x_unit: (S, C) x/c of each
    station's points (upper TE -> LE -> lower). Returns (S, ..., C)."""
    import neuralfoil as nf
    xb = np.asarray(nf.bl_x_points, np.float64)
    S, C = x_unit.shape
    h = C // 2
    # signed sqrt(x/c): proportional to the arc length from the leading edge near it, so the
    # stretch between the first stations (x/c = 0.0156) round the nose is not squeezed
    xr = np.sqrt(np.clip(x_unit, 0.0, None))
    xi = np.concatenate([xr[:, :h + 1], -xr[:, h + 1:]], 1)          # + upper, - lower
    xi_src = np.concatenate([-np.sqrt(xb[::-1]), np.sqrt(xb)])        # increasing
    ue_src = np.concatenate([lo[..., ::-1], up], -1)
    idx = np.clip(np.searchsorted(xi_src, xi) - 1, 0, len(xi_src) - 2)
    t = np.clip((xi - xi_src[idx]) / (xi_src[idx + 1] - xi_src[idx]), 0.0, 1.0)
    extra = up.ndim - 2
    shape = (S,) + (1,) * extra + (C,)
    i0, t = idx.reshape(shape), t.reshape(shape)
    ue = (np.take_along_axis(ue_src, i0, -1) * (1 - t) + np.take_along_axis(ue_src, i0 + 1, -1) * t)
    return 1.0 - ue ** 2


def _section_lift(sec_xz, cp, alpha_deg, chord):
    """Section lift coefficient (force per unit y over q c, on the lift direction) of Cp (..., C)
    on closed physical sections sec_xz (S, C, 2); cp (S, ..., C) with extra axes broadcast."""
    d = np.roll(sec_xz, -1, axis=-2) - sec_xz                    # edge k -> k+1 (S, C, 2)
    nlen = np.stack([d[..., 1], -d[..., 0]], -1)                 # outward for the CCW loop
    cpe = 0.5 * (cp + np.roll(cp, -1, axis=-1))
    extra = cp.ndim - 2
    nl = nlen.reshape(nlen.shape[:1] + (1,) * extra + nlen.shape[1:])
    fx = -(cpe * nl[..., 0]).sum(-1)
    fz = -(cpe * nl[..., 1]).sum(-1)
    a = np.radians(alpha_deg)
    return (-np.sin(a) * fx + np.cos(a) * fz) / chord.reshape((-1,) + (1,) * extra)


def _vlm(spec, mach, alpha_deg, eta):
    """Goethert-corrected vortex lattice: (CL, section cl at eta (n,))."""
    import aerosandbox as asb
    from gshell.wing.geometry import airfoil_surfaces
    beta = math.sqrt(1.0 - mach ** 2)

    def foil(name):
        sec = airfoil_surfaces(name, 80)
        return asb.Airfoil(name="s", coordinates=np.concatenate([sec, sec[:1]], 0))
    root = foil(spec.airfoil)
    tip = root if spec.tip_airfoil is None else foil(spec.tip_airfoil)
    le = spec.leading_edge(np.array([0.0, 1.0]))
    le[:, 0] /= beta
    xsecs = [asb.WingXSec(xyz_le=le[0], chord=spec.root_chord / beta, twist=0.0, airfoil=root),
             asb.WingXSec(xyz_le=le[1], chord=spec.tip_chord / beta, twist=spec.twist_deg, airfoil=tip)]
    wing = asb.Wing(symmetric=True, xsecs=xsecs)
    s_full = 2.0 * spec.area / beta
    plane = asb.Airplane(wings=[wing], s_ref=s_full, c_ref=spec.root_chord / beta, b_ref=2 * spec.semispan)
    op = asb.OperatingPoint(velocity=1.0, alpha=float(alpha_deg))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vlm = asb.VortexLatticeMethod(plane, op, spanwise_resolution=_VLM_SPAN,
                                      chordwise_resolution=_VLM_CHORD)
        vlm.run()
    q = op.dynamic_pressure()
    ldir = _lift_dir(np.float64(alpha_deg))
    lift = np.asarray(vlm.forces_geometry) @ ldir                  # per panel
    cl_wing = lift.sum() / (q * s_full) / beta
    yl, yr = np.asarray(vlm.front_left_vertices)[:, 1], np.asarray(vlm.front_right_vertices)[:, 1]
    strip = np.arange(len(lift)) // _VLM_CHORD
    n_strips = strip[-1] + 1
    ls = np.bincount(strip, lift, n_strips)
    y0 = yl[::_VLM_CHORD]
    y1 = yr[::_VLM_CHORD]
    right = (y0 + y1) > 0
    ylo, yhi = np.minimum(y0, y1)[right], np.maximum(y0, y1)[right]
    yc = 0.5 * (ylo + yhi) / spec.semispan
    per_span = ls[right] / (yhi - ylo)
    order = np.argsort(yc)
    yc, per_span = yc[order], per_span[order]
    # compressible section cl on the physical chord: l'' / (q c)
    cl_sec = per_span / (q * spec.chord(yc))
    return float(cl_wing), np.interp(eta, yc, cl_sec)


def _check_condition(mach, alpha_deg):
    mach = np.atleast_1d(np.asarray(mach, dtype=np.float64))
    alpha = np.atleast_1d(np.asarray(alpha_deg, dtype=np.float64))
    if mach.ndim != 1 or alpha.shape != mach.shape:
        raise ValueError("Expected mach and alpha_deg of the same 1-D shape but got %s and %s" % (
            mach.shape, alpha.shape))
    if not np.all(np.isfinite(mach)) or np.any(mach < 0) or np.any(mach > MAX_MACH):
        raise ValueError("Expected mach in [0, %g] (subsonic; Karman–Tsien and Goethert need M < 1) "
                         "but got %r" % (MAX_MACH, mach.tolist()))
    if not np.all(np.isfinite(alpha)) or np.any(np.abs(alpha) > 15):
        raise ValueError("Expected alpha_deg in [-15, 15] degrees but got %r" % (alpha.tolist(),))
    return mach, alpha


def wing_cp_conditions(spec, mach, alpha_deg, n_span=32, n_chord=64, re_per_meter_per_mach=None):
    """:func:`wing_cp` for several flight conditions of one wing (one batched NeuralFoil table).

    ``mach``, ``alpha_deg``: (M,) arrays. Returns the dict of :func:`wing_cp` with a leading (M,)
    axis on every per-condition entry (``points``, ``eta`` and ``area`` are shared).
    """
    if not isinstance(spec, WingSpec):
        raise TypeError("Expected spec to be a WingSpec but got %s" % type(spec).__name__)
    _check_counts(n_span, n_chord)
    mach, alpha = _check_condition(mach, alpha_deg)
    if re_per_meter_per_mach is None:
        re_per_meter_per_mach = SPEED_OF_SOUND / KINEMATIC_VISCOSITY
    re_per_meter_per_mach = float(re_per_meter_per_mach)
    if not math.isfinite(re_per_meter_per_mach) or re_per_meter_per_mach <= 0:
        raise ValueError("Expected re_per_meter_per_mach to be a positive number but got %r" % (
            re_per_meter_per_mach,))
    from gshell.wing.geometry import wing_grid
    points = wing_grid(spec, n_span, n_chord)
    eta = span_fractions(n_span)
    chord = spec.chord(eta)
    sec_xz = points[..., [0, 2]]                                      # physical sections (S, C, 2)
    m = len(mach)
    cl_vlm = np.empty(m)
    target = np.empty((m, n_span))
    for i in range(m):
        cl_vlm[i], target[i] = _vlm(spec, mach[i], alpha[i], eta)
    # Reynolds number of the local chord; below Mach 0.1 it is taken at Mach 0.1 (not 0 at M = 0)
    re = np.maximum(mach, 0.1)[:, None] * re_per_meter_per_mach * chord[None, :]       # (M, S)

    kul = _kulfan(spec, eta)
    na = len(TABLE_ALPHAS)
    # table: (S, M, A) cases, stations outermost
    k_tab = {k: np.repeat(v, m * na, axis=0) for k, v in kul.items()}
    a_tab = np.broadcast_to(TABLE_ALPHAS, (n_span, m, na)).reshape(-1)
    r_tab = np.broadcast_to(re.T[:, :, None], (n_span, m, na)).reshape(-1)
    up, lo, _, _ = _neuralfoil(k_tab, a_tab, r_tab)
    x_unit = spec.sections(eta, n_chord)[..., 0]
    cp0_tab = _cp0_on_grid(up.reshape(n_span, m, na, -1), lo.reshape(n_span, m, na, -1), x_unit)
    cp_tab, _ = _karman_tsien_limited(cp0_tab, mach[None, :, None, None])
    cl_tab = _section_lift(sec_xz, cp_tab, alpha[None, :, None], chord)               # (S, M, A)

    alpha_eff = np.empty((n_span, m))
    clipped = np.zeros((n_span, m), dtype=bool)
    for s in range(n_span):
        for j in range(m):
            c = cl_tab[s, j]
            lo_i, hi_i = int(np.argmin(c)), int(np.argmax(c))
            if hi_i <= lo_i:
                lo_i, hi_i = 0, na - 1
            cc = np.maximum.accumulate(c[lo_i:hi_i + 1])
            t = target[j, s]
            clipped[s, j] = t < cc[0] or t > cc[-1]
            alpha_eff[s, j] = np.interp(t, cc, TABLE_ALPHAS[lo_i:hi_i + 1])

    k_fin = {k: np.repeat(v, m, axis=0) for k, v in kul.items()}
    up, lo, cl_nf, conf = _neuralfoil(k_fin, alpha_eff.reshape(-1), re.T.reshape(-1))
    cp0 = _cp0_on_grid(up.reshape(n_span, m, -1), lo.reshape(n_span, m, -1), x_unit)
    cp, floored = _karman_tsien_limited(cp0, mach[None, :, None])
    cl_sec = _section_lift(sec_xz, cp, alpha[None, :], chord)                         # (S, M)
    cp = np.ascontiguousarray(cp.transpose(1, 0, 2))
    cl_cp = surface_lift_coefficient(points, cp, alpha, spec.area)
    return {
        "points": points, "eta": eta, "area": spec.area,
        "cp": cp, "cp0": np.ascontiguousarray(cp0.transpose(1, 0, 2)),
        "cl_vlm": cl_vlm, "cl_cp": cl_cp,
        "cl_section_target": target, "cl_section": cl_sec.T,
        "alpha_effective": alpha_eff.T, "reynolds": re, "clipped": clipped.T,
        "vacuum_limited": floored.any(-1).T,
        "cl_neuralfoil": cl_nf.reshape(n_span, m).T,
        "analysis_confidence": conf.reshape(n_span, m).T,
    }


def wing_cp(spec, mach, alpha_deg, n_span=32, n_chord=64, re_per_meter_per_mach=None):
    """Surface Cp of a wing at one flight condition (see the module docstring for the model).

    Args:
        spec: :class:`WingSpec`.
        mach: freestream Mach number in [0, 0.9].
        alpha_deg: angle of attack in degrees, [-15, 15].
        n_span, n_chord: grid size, as :func:`wing_grid`.
        re_per_meter_per_mach: Reynolds number per metre of chord per unit Mach (default a/nu of
            a cruise atmosphere, 7.6e6).
    Returns:
        dict of float64 arrays: ``cp`` (n_span, n_chord) on the :func:`wing_grid` points (``points``),
        ``cp0`` the incompressible Cp, ``cl_vlm`` the vortex-lattice wing lift coefficient
        (Goethert), ``cl_cp`` the lift coefficient of the Cp integrated over the surface,
        per station (n_span,): ``eta``, ``cl_section_target`` (lattice), ``cl_section`` (Cp
        integrated round the section), ``alpha_effective`` (deg), ``reynolds``, ``clipped``
        (stalled: target beyond NeuralFoil's maximum), ``vacuum_limited`` (Cp floored at vacuum),
        ``cl_neuralfoil`` (NeuralFoil's own CL at
        the matched angle), ``analysis_confidence``; ``area`` the reference area (half wing).
    """
    if np.ndim(mach) != 0 or np.ndim(alpha_deg) != 0:
        raise ValueError("Expected scalar mach and alpha_deg (use wing_cp_conditions for arrays) but got "
                         "shapes %s and %s" % (np.shape(mach), np.shape(alpha_deg)))
    out = wing_cp_conditions(spec, [mach], [alpha_deg], n_span, n_chord, re_per_meter_per_mach)
    shared = ("points", "eta", "area")
    return {k: (v if k in shared else (float(v[0]) if np.ndim(v) == 1 else v[0])) for k, v in out.items()}
