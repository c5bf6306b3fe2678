"""Parametric wings as structured surface grids.

A wing is a half wing (root at ``y = 0``, tip at ``y = semispan``) lofted through streamwise
(vertical x–z) airfoil sections: chord tapering linearly from ``root_chord`` to
``taper * root_chord``, leading edge swept back by ``sweep_deg`` and raised by ``dihedral_deg``,
each section rotated nose-up about its leading edge by a twist growing linearly from 0 at the
root to ``twist_deg`` at the tip. Axes: x downstream, y spanwise, z up (aerosandbox's geometry
axes).

:func:`wing_grid` samples the surface as a ``(n_span, n_chord, 3)`` grid whose chordwise index
runs round each section, upper trailing edge -> leading edge -> lower trailing edge, periodic
along axis 1 (the closing point is not repeated), so ``gshell.riemann.grid_features(points,
periodic_v=True)`` applies directly.
"""
import functools
import math
import re
from dataclasses import dataclass, asdict
from typing import Optional

import numpy as np

__all__ = ["WingSpec", "naca4", "airfoil_surfaces", "section_x", "wing_grid", "random_wing",
           "AIRFOILS", "PARAM_NAMES"]

#: Airfoils :func:`random_wing` draws from: NACA 4-digit (closed form) and aerosandbox's database.
AIRFOILS = ("naca0012", "naca2412", "naca4412", "naca2415", "naca0009", "naca4415",
            "rae2822", "clarky", "e387", "naca23012", "sd7037", "naca2410")

#: The numbers of a spec, in the order of :meth:`WingSpec.params`.
PARAM_NAMES = ("semispan", "root_chord", "taper", "sweep_deg", "dihedral_deg", "twist_deg",
               "aspect_ratio", "root_thickness", "root_camber", "tip_thickness", "tip_camber")

_NACA4 = re.compile(r"^naca(\d)(\d)(\d\d)$")


def _finite_number(name, value, lo=None, hi=None, lo_open=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError("Expected %s to be a number but got %r" % (name, value)) from None
    if not math.isfinite(v):
        raise ValueError("Expected %s to be finite but got %r" % (name, value))
    bad_lo = lo is not None and (v <= lo if lo_open else v < lo)
    if bad_lo or (hi is not None and v > hi):
        raise ValueError("Expected %s in %s%s, %s] but got %r" % (
            name, "(" if lo_open else "[", "-inf" if lo is None else lo, "inf" if hi is None else hi, value))
    return v


def naca4(code, n=200):
    """NACA 4-digit airfoil coordinates from the closed-form camber and thickness.

    Args:
        code: "2412", "naca2412" or an int; digits m, p, tt (max camber m %, at p tenths of chord,
            thickness tt %).
        n: number of points, even, >= 8.
    Returns:
        (n, 2) float64 (x, z) in chords, upper trailing edge -> leading edge -> lower trailing edge,
        cosine spaced in x, closed trailing edge (the TE point appears once, at index 0). The
        thickness ``5 t (0.2969 sqrt(x) - 0.1260 x - 0.3516 x^2 + 0.2843 x^3 - 0.1036 x^4)`` (the
        closed-TE variant) is laid off perpendicular to the camber line.
    """
    s = str(code).lower().strip()
    if not s.startswith("naca"):
        s = "naca" + s
    mt = _NACA4.match(s)
    if mt is None:
        raise ValueError("Expected code to be a NACA 4-digit designation like '2412' but got %r" % (code,))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 8 or n % 2:
        raise ValueError("Expected n to be an even int >= 8 but got %r" % (n,))
    m, p, t = int(mt.group(1)) / 100.0, int(mt.group(2)) / 10.0, int(mt.group(3)) / 100.0
    if t <= 0:
        raise ValueError("Expected a positive thickness in %r" % (code,))
    if m > 0 and p == 0:
        raise ValueError("Expected the camber position digit to be > 0 when camber > 0 in %r" % (code,))
    h = n // 2
    x = 0.5 * (1.0 - np.cos(np.pi * np.arange(h + 1) / h))        # 0 .. 1, LE to TE
    yt = 5 * t * (0.2969 * np.sqrt(x) - 0.1260 * x - 0.3516 * x ** 2 + 0.2843 * x ** 3 - 0.1036 * x ** 4)
    if m > 0:
        fore = x < p
        yc = np.where(fore, m / p ** 2 * (2 * p * x - x ** 2), m / (1 - p) ** 2 * (1 - 2 * p + 2 * p * x - x ** 2))
        dyc = np.where(fore, 2 * m / p ** 2 * (p - x), 2 * m / (1 - p) ** 2 * (p - x))
    else:
        yc, dyc = np.zeros_like(x), np.zeros_like(x)
    th = np.arctan(dyc)
    xu, zu = x - yt * np.sin(th), yc + yt * np.cos(th)
    xl, zl = x + yt * np.sin(th), yc - yt * np.cos(th)
    upper = np.stack([xu, zu], 1)[::-1]          # TE -> LE, h + 1 points
    lower = np.stack([xl, zl], 1)[1:h]           # after LE .. before TE, h - 1 points
    return np.concatenate([upper, lower], 0)


def _database_coordinates(name):
    import aerosandbox as asb
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = asb.Airfoil(name).coordinates
    if coords is None or len(coords) < 8:
        raise ValueError("Expected airfoil to be a NACA 4-digit name like 'naca2412' or a name in "
                         "aerosandbox's airfoil database (e.g. 'rae2822', 'clarky') but got %r" % (name,))
    return np.asarray(coords, dtype=np.float64)


def section_x(n_chord):
    """The chordwise stations x/c of a section's grid points, (n_chord,) float64: cosine spaced,
    upper trailing edge (1) -> leading edge (0, index n_chord // 2) -> lower, closing point
    omitted; point k and n_chord - k share the station. They are camber-line stations: the
    thickness is laid off perpendicular to the camber line, as in the NACA definition."""
    h = n_chord // 2
    xu = 0.5 * (1.0 + np.cos(np.pi * np.arange(h + 1) / h))
    xl = 0.5 * (1.0 - np.cos(np.pi * np.arange(1, h) / h))
    return np.concatenate([xu, xl])


def airfoil_surfaces(airfoil, n_chord=64):
    """The airfoil sampled at the grid's chordwise points.

    Returns (n_chord, 2) float64 (x, z) in chords, upper TE -> LE -> lower, leading edge at (0, 0)
    (index n_chord // 2), trailing edge at (1, 0) (index 0), the closing point omitted. Points are
    placed at the camber-line stations :func:`section_x`, the half thickness laid off perpendicular
    to the camber line: NACA 4-digit names exactly as :func:`naca4`; database airfoils through
    the camber and thickness of their 8-weight Kulfan fit with a closed trailing edge of at least
    8 degrees (:func:`_camber_thickness`). The perpendicular construction makes the two points next to the
    trailing edge straddle the camber line, so the periodic finite differences of
    ``gshell.riemann`` turn the normal by less than 90 degrees at every step round the sharp
    trailing edge.
    """
    if not isinstance(airfoil, str):
        raise TypeError("Expected airfoil to be a str but got %s" % type(airfoil).__name__)
    if isinstance(n_chord, bool) or not isinstance(n_chord, (int, np.integer)) or n_chord < 8 or n_chord % 2:
        raise ValueError("Expected n_chord to be an even int >= 8 but got %r" % (n_chord,))
    return _airfoil_surfaces(airfoil.lower().strip(), int(n_chord)).copy()


#: Smallest trailing-edge half wedge (degrees) of a database airfoil's section (see _camber_thickness).
TE_HALF_WEDGE_MIN = 4.0


def _camber_thickness(name, x):
    """Camber yc(x) and half thickness yt(x) of a database airfoil at stations x in [0, 1].

    The coordinates are fitted by aerosandbox's Kulfan (CST) parametrisation with 8 weights per
    side (the shape NeuralFoil analyses), trailing-edge thickness set to 0, and evaluated at x:
    smooth at the leading edge whatever the database's point density. A half thickness
    ``tan(4 deg) (1 - x) w(x)`` is added near the trailing edge (``w`` a smoothstep from 0 at
    x = 0.85 to 1 at x = 1): cusped trailing edges get a wedge of at least 8 degrees, so a
    periodic grid does not fold there (< 0.005 chord of added thickness).
    """
    import warnings

    import aerosandbox as asb
    coords = _database_coordinates(name).copy()
    # close a blunt trailing edge first: shear each surface by x * (half the TE gap)
    ile = int(np.argmin(coords[:, 0]))
    xn = (coords[:, 0] - coords[ile, 0]) / (coords[:, 0].max() - coords[ile, 0])
    gap = coords[0, 1] - coords[-1, 1]
    side = np.where(np.arange(len(coords)) <= ile, 1.0, -1.0)
    coords[:, 1] -= side * 0.5 * gap * xn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = asb.Airfoil(name=name, coordinates=coords).to_kulfan_airfoil(n_weights_per_side=8)
        k = asb.KulfanAirfoil(lower_weights=k.lower_weights, upper_weights=k.upper_weights,
                              leading_edge_weight=k.leading_edge_weight, TE_thickness=0.0)
        zu = np.asarray(k.upper_coordinates(x))[:, 1]
        zl = np.asarray(k.lower_coordinates(x))[:, 1]
    yc, yt = 0.5 * (zu + zl), 0.5 * (zu - zl)
    u = np.clip((x - 0.85) / 0.15, 0.0, 1.0)
    yt = yt + math.tan(math.radians(TE_HALF_WEDGE_MIN)) * (1.0 - x) * u * u * (3.0 - 2.0 * u)
    return yc, np.maximum(yt, 0.0)


@functools.lru_cache(maxsize=256)
def _airfoil_surfaces(name, n_chord):
    if _NACA4.match(name):
        return naca4(name, n_chord)
    h = n_chord // 2
    x = section_x(n_chord)[:h + 1][::-1]                      # LE -> TE, h + 1 stations
    yc, yt = _camber_thickness(name, x)
    yt[0] = yt[-1] = 0.0
    th = np.arctan(np.gradient(yc, x))
    upper = np.stack([x - yt * np.sin(th), yc + yt * np.cos(th)], 1)[::-1]
    lower = np.stack([x + yt * np.sin(th), yc - yt * np.cos(th)], 1)[1:h]
    return np.concatenate([upper, lower], 0)


def _thickness_camber(sec):
    """Max thickness and max |camber| of a unit section (n_chord, 2) (pairs k, n - k)."""
    h = len(sec) // 2
    up = sec[1:h][::-1]
    lo = sec[h + 1:]
    return float(np.max(np.hypot(*(up - lo).T))), float(np.max(np.abs(0.5 * (up[:, 1] + lo[:, 1]))))


@dataclass(frozen=True)
class WingSpec:
    """A half wing. Lengths in metres (any unit: only Reynolds numbers care), angles in degrees.

    Attributes:
        airfoil: root section: "naca2412"-style NACA 4-digit or a name in aerosandbox's database.
        semispan: span of the half wing along y, > 0.
        root_chord: chord at y = 0, > 0.
        taper: tip chord / root chord, in (0, 1.5].
        sweep_deg: leading-edge sweep, in (-60, 60).
        dihedral_deg: in (-30, 30).
        twist_deg: tip twist (nose up positive), linear from 0 at the root, in [-15, 15].
        tip_airfoil: tip section (blended linearly in span), None for the root airfoil.
    """
    airfoil: str = "naca2412"
    semispan: float = 5.0
    root_chord: float = 1.5
    taper: float = 0.5
    sweep_deg: float = 20.0
    dihedral_deg: float = 3.0
    twist_deg: float = -2.0
    tip_airfoil: Optional[str] = None

    def __post_init__(self):
        for name in ("airfoil",) + (("tip_airfoil",) if self.tip_airfoil is not None else ()):
            if not isinstance(getattr(self, name), str):
                raise TypeError("Expected %s to be a str but got %r" % (name, getattr(self, name)))
        fix = object.__setattr__
        fix(self, "semispan", _finite_number("semispan", self.semispan, 0, None, lo_open=True))
        fix(self, "root_chord", _finite_number("root_chord", self.root_chord, 0, None, lo_open=True))
        fix(self, "taper", _finite_number("taper", self.taper, 0, 1.5, lo_open=True))
        fix(self, "sweep_deg", _finite_number("sweep_deg", self.sweep_deg, -60, 60))
        fix(self, "dihedral_deg", _finite_number("dihedral_deg", self.dihedral_deg, -30, 30))
        fix(self, "twist_deg", _finite_number("twist_deg", self.twist_deg, -15, 15))
        # unknown airfoil names fail here, not deep inside a dataset run
        airfoil_surfaces(self.airfoil, 8)
        if self.tip_airfoil is not None:
            airfoil_surfaces(self.tip_airfoil, 8)

    @property
    def tip_chord(self):
        return self.taper * self.root_chord

    @property
    def area(self):
        """Planform area of the half wing (the reference area S of its coefficients)."""
        return 0.5 * self.semispan * self.root_chord * (1.0 + self.taper)

    @property
    def aspect_ratio(self):
        """Aspect ratio of the full wing, (2 semispan)^2 / (2 area)."""
        return 2.0 * self.semispan ** 2 / self.area

    def chord(self, eta):
        """Chord at span fraction eta = y / semispan (array)."""
        return self.root_chord * (1.0 + (self.taper - 1.0) * np.asarray(eta, dtype=np.float64))

    def leading_edge(self, eta):
        """(..., 3) leading-edge points at span fractions eta."""
        y = self.semispan * np.asarray(eta, dtype=np.float64)
        return np.stack([y * math.tan(math.radians(self.sweep_deg)), y,
                         y * math.tan(math.radians(self.dihedral_deg))], -1)

    def twist(self, eta):
        """Twist in degrees at span fractions eta."""
        return self.twist_deg * np.asarray(eta, dtype=np.float64)

    def sections(self, eta, n_chord=64):
        """Unit-chord, untwisted (x, z) section shapes at span fractions eta: (len(eta), n_chord, 2)."""
        root = airfoil_surfaces(self.airfoil, n_chord)
        tip = root if self.tip_airfoil is None else airfoil_surfaces(self.tip_airfoil, n_chord)
        w = np.asarray(eta, dtype=np.float64)[:, None, None]
        return (1.0 - w) * root + w * tip

    def params(self):
        """The spec's numbers, (len(PARAM_NAMES),) float64, in PARAM_NAMES order."""
        root = airfoil_surfaces(self.airfoil, 128)
        tip = root if self.tip_airfoil is None else airfoil_surfaces(self.tip_airfoil, 128)
        rt, rc = _thickness_camber(root)
        tt, tc = _thickness_camber(tip)
        return np.array([self.semispan, self.root_chord, self.taper, self.sweep_deg, self.dihedral_deg,
                         self.twist_deg, self.aspect_ratio, rt, rc, tt, tc], dtype=np.float64)

    def to_dict(self):
        return asdict(self)


def span_fractions(n_span):
    """Spanwise stations eta in [0, 1], (n_span,) float64, half-cosine spaced (dense at the tip)."""
    return np.sin(0.5 * np.pi * np.arange(n_span) / (n_span - 1))


def _check_counts(n_span, n_chord):
    if isinstance(n_span, bool) or not isinstance(n_span, (int, np.integer)) or n_span < 3:
        raise ValueError("Expected n_span to be an int >= 3 but got %r" % (n_span,))
    if isinstance(n_chord, bool) or not isinstance(n_chord, (int, np.integer)) or n_chord < 8 or n_chord % 2:
        raise ValueError("Expected n_chord to be an even int >= 8 but got %r" % (n_chord,))


def wing_grid(spec, n_span=32, n_chord=64):
    """The wing surface as a structured grid.

    Args:
        spec: a :class:`WingSpec`.
        n_span: spanwise stations (>= 3), half-cosine spaced from root (row 0) to tip (last row).
        n_chord: chordwise points per section (even, >= 8), upper TE -> LE -> lower, periodic
            along axis 1 (the closing point is not repeated; index 0 is the trailing edge and
            index n_chord // 2 the leading edge; see :func:`airfoil_surfaces`).
    Returns:
        (n_span, n_chord, 3) float64 points, x downstream, y spanwise, z up.
    """
    if not isinstance(spec, WingSpec):
        raise TypeError("Expected spec to be a WingSpec but got %s" % type(spec).__name__)
    _check_counts(n_span, n_chord)
    eta = span_fractions(n_span)
    sec = spec.sections(eta, n_chord) * spec.chord(eta)[:, None, None]      # (S, C, 2)
    tw = np.radians(spec.twist(eta))[:, None]
    c, s = np.cos(tw), np.sin(tw)
    x = c * sec[..., 0] + s * sec[..., 1]          # nose-up rotation about the leading edge
    z = -s * sec[..., 0] + c * sec[..., 1]
    le = spec.leading_edge(eta)[:, None, :]
    pts = np.stack([x, np.zeros_like(x), z], -1) + le
    return pts


def random_wing(rng):
    """A random :class:`WingSpec` from a transport/general-aviation-like design space.

    Aspect ratio 5–12, taper 0.25–1, leading-edge sweep 0–35°, dihedral −2–7°, tip twist −5–+1°,
    root chord 1–4, airfoils from :data:`AIRFOILS` (tip airfoil different from the root's in half
    the wings). ``rng`` is a ``numpy.random.Generator``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("Expected rng to be a numpy.random.Generator but got %s" % type(rng).__name__)
    ar = rng.uniform(5.0, 12.0)
    taper = rng.uniform(0.25, 1.0)
    root_chord = rng.uniform(1.0, 4.0)
    # AR = 2 b^2 / (b c_r (1 + taper) / 2) = 4 b / (c_r (1 + taper))
    semispan = ar * root_chord * (1.0 + taper) / 4.0
    root = AIRFOILS[int(rng.integers(len(AIRFOILS)))]
    tip = AIRFOILS[int(rng.integers(len(AIRFOILS)))] if rng.uniform() < 0.5 else None
    return WingSpec(airfoil=root, semispan=float(semispan), root_chord=float(root_chord),
                    taper=float(taper), sweep_deg=float(rng.uniform(0.0, 35.0)),
                    dihedral_deg=float(rng.uniform(-2.0, 7.0)), twist_deg=float(rng.uniform(-5.0, 1.0)),
                    tip_airfoil=tip)
