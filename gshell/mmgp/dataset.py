"""A Tensile2d-like dataset: random 2D plates, each meshed on its own, in plane-stress tension.

In the spirit of the Tensile2d case of MMGP (Casenave, Staber, Roynard, "MMGP: a Mesh Morphing
Gaussian Process-based machine learning method for regression of physical problems under
non-parameterized geometrical variability", NeurIPS 2023, https://arxiv.org/abs/2306.12342) and
its PLAID release: every sample is a plate whose outline varies at random (width changes, smooth
notches and bulges on the left and right edges: 10 parameters, a smooth low-dimensional family
as Tensile2d's), meshed by ``triangle`` with its own topology and node count, clamped at the
bottom, loaded by a uniform random, mostly tensile traction on the top, and solved with
linear elasticity in plane stress (P1 elements, scikit-fem). Outputs are nodal fields
(displacement, von Mises stress) and scalars (their maxima).

Two more families (``generate(family=...)``, ``FAMILIES``) test a model away from the plates:
``"hexagon"``, convex hexagons (another shape class, six corners, 4 shape parameters) under a
top traction, and ``"gravity"``, the plates' outlines under another load type (self-weight and a
shear traction on the top).

``triangle`` and ``scikit-fem`` are optional dependencies, imported inside the functions that
need them.

Example:
    >>> from gshell.mmgp.dataset import generate, describe
    >>> samples = generate(50, seed=0, cache_dir="data/tensile2d")   # doctest: +SKIP
    >>> describe(samples)["n_nodes"]                                   # doctest: +SKIP
"""
import functools
import math
import numbers
import os

import numpy as np

from gshell._atomic import save_npz
from gshell.parallel import item_rng, map_items

__all__ = ["FAMILIES", "CORNER_TURN", "make_plate", "make_hexagon", "side_offset", "solve_elasticity",
           "generate", "describe", "scaled_inputs",
           "save_sample", "load_sample", "boundary_loops"]

# Bump when the generator changes in a way that changes samples: cached files carry it in their name.
# Version 1 had piecewise-linear sides with 0-3 semicircular notches/bulges and a shear traction
# tx in [-0.3, 0.3]: strong bending and a geometry that needs many POD modes.
_VERSION = 2
_HEIGHT = 1.0


# --------------------------------------------------------------------------------------- checks

def _check_mesh_size(mesh_size):
    if isinstance(mesh_size, bool) or not isinstance(mesh_size, numbers.Real):
        raise TypeError("Expected mesh_size to be a float but got %s" % type(mesh_size).__name__)
    if not (math.isfinite(mesh_size) and 0.005 <= mesh_size <= 0.25):
        raise ValueError("Expected mesh_size in [0.005, 0.25] but got %r" % (mesh_size,))
    return float(mesh_size)


def _check_int(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError("Expected %s to be an int but got %s" % (name, type(v).__name__))
    if v < lo:
        raise ValueError("Expected %s >= %d but got %d" % (name, lo, v))
    return int(v)


def _rng(rng_or_seed):
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    if isinstance(rng_or_seed, bool):
        raise TypeError("Expected rng_or_seed to be a numpy Generator, an int or a tuple of ints "
                        "but got bool")
    if isinstance(rng_or_seed, numbers.Integral) or (
            isinstance(rng_or_seed, (tuple, list))
            and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in rng_or_seed)):
        seq = [rng_or_seed] if isinstance(rng_or_seed, numbers.Integral) else list(rng_or_seed)
        if any(int(s) < 0 for s in seq):
            raise ValueError("Expected rng_or_seed to be non-negative but got %r" % (rng_or_seed,))
        return np.random.default_rng([int(s) for s in seq])
    raise TypeError("Expected rng_or_seed to be a numpy Generator, an int or a tuple of ints but "
                    "got %s" % type(rng_or_seed).__name__)


def _check_mesh(points, triangles):
    points = np.asarray(points)
    triangles = np.asarray(triangles)
    if points.ndim != 2 or points.shape[1] != 2 or not np.issubdtype(points.dtype, np.floating):
        raise ValueError("Expected points of shape (N, 2) float but got shape %s, dtype %s"
                         % (points.shape, points.dtype))
    if not np.all(np.isfinite(points)):
        raise ValueError("Expected points to be finite but they hold NaN/Inf")
    if (triangles.ndim != 2 or triangles.shape[1] != 3 or triangles.shape[0] == 0
            or not np.issubdtype(triangles.dtype, np.integer)):
        raise ValueError("Expected triangles of shape (M, 3) int (M >= 1) but got shape %s, dtype %s"
                         % (triangles.shape, triangles.dtype))
    if triangles.min() < 0 or triangles.max() >= len(points):
        raise ValueError("Expected triangles to index points in [0, %d) but got indices in [%d, %d]"
                         % (len(points), triangles.min(), triangles.max()))
    return points.astype(np.float64), triangles.astype(np.int64)


# ------------------------------------------------------------------------------------- geometry

def _signed_areas(points, triangles):
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def boundary_loops(triangles):
    """Counts the boundary loops of a triangle mesh (1 for a disk-like plate).

    Args:
        triangles: (M, 3) int64 vertex indices.

    Returns:
        int: the number of connected components of the boundary edges (edges used by one triangle).
    """
    from gshell.metrics import boundary_loops as _loops

    return _loops(np.asarray(triangles, dtype=np.int64))


def _polyline(p0, p1, h):
    """Points from p0 (included) to p1 (excluded), spacing about h."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    n = max(int(math.ceil(np.linalg.norm(p1 - p0) / h)), 1)
    t = np.arange(n)[:, None] / n
    return p0 + t * (p1 - p0)


# Outline parameters, per side (left, right), drawn uniformly in these ranges:
_SIDE_RANGES = {
    "offset_bottom": (-0.1, 0.1),   # outward shift of the edge at y = 0 (width change)
    "offset_top": (-0.1, 0.1),      # outward shift at y = 1
    "bulge": (-0.08, 0.08),         # sin(pi y) bow: > 0 bulges out, < 0 a waist
    "notch_depth": (0.0, 0.1),      # depth of a smooth Gaussian notch (inward)
    "notch_center": (0.3, 0.7),     # its height
}
# Inputs: traction on the top edge (mostly tensile: a small shear part) and Young's modulus.
_LOAD_RANGES = {"tx": (-0.1, 0.1), "ty": (0.5, 1.5), "E": (0.8, 1.2)}
_NOTCH_WIDTH = 0.15                 # Gaussian notch: depth * exp(-((y - center) / width)^2)
# Hexagons, per side: the height of the kink and how far it is pushed outward.
_HEX_RANGES = {"kink_height": (0.35, 0.65), "kink_size": (0.1, 0.25)}
# Loads of the other families (E = 1, nu = 0.3): hexagons under a traction (tx, ty) on the top;
# "gravity" plates under a shear traction tx on the top and their own weight (0, -g).
_HEX_LOADS = {"tx": (-0.2, 0.2), "ty": (0.5, 1.5)}
_GRAVITY_LOADS = {"tx": (0.1, 0.4), "g": (0.5, 2.0)}

#: The sample families of :func:`generate`: {name: names of the input scalars}.
FAMILIES = {"plate": ("tx", "ty", "E"), "hexagon": ("tx", "ty"), "gravity": ("tx", "g")}
#: Corner threshold (degrees) for ``MMGP(landmarks="corners", corner_turn=...)`` per family.
CORNER_TURN = {"plate": 50.0, "hexagon": 15.0, "gravity": 50.0}


def side_offset(y, offset_bottom, offset_top, bulge, notch_depth, notch_center):
    """Outward offset of one side edge at heights ``y`` (array), from its straight position.

    ``offset_bottom (1 - y) + offset_top y + bulge sin(pi y)
    - notch_depth exp(-((y - notch_center) / 0.15)^2)``: a width change, a bow (bulge or waist)
    and a smooth notch; the edge is smooth, so the plate has four corners only.
    """
    y = np.asarray(y, dtype=np.float64)
    return (offset_bottom * (1.0 - y) + offset_top * y + bulge * np.sin(math.pi * y)
            - notch_depth * np.exp(-((y - notch_center) / _NOTCH_WIDTH) ** 2))


def _side(xfun, h):
    """A side edge x = xfun(y), bottom to top, resampled at arc-length spacing about h (start
    included, end excluded)."""
    yf = np.linspace(0.0, _HEIGHT, 4001)
    pf = np.stack([xfun(yf), yf], 1)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pf, axis=0), axis=1))])
    n = max(int(math.ceil(s[-1] / h)), 2)
    st = s[-1] * np.arange(n) / n
    return np.stack([np.interp(st, s, pf[:, 0]), np.interp(st, s, pf[:, 1])], 1)


def _outline(rng, h):
    """A random counterclockwise outline: bottom edge y=0 and top edge y=1 straight, smooth left
    and right edges (10 parameters, see ``_SIDE_RANGES``). Returns (outline, parameters)."""
    H = _HEIGHT
    params = {}
    for side in ("left", "right"):
        params[side] = {k: float(rng.uniform(*r)) for k, r in _SIDE_RANGES.items()}

    def right(y):
        return 1.0 + side_offset(y, **params["right"])

    def left(y):
        return -side_offset(y, **params["left"])

    right_pts = _side(right, h)                                        # bottom -> top, top excluded
    left_up = _side(left, h)                                           # bottom -> top, top excluded
    left_pts = np.concatenate([[(float(left(H)), H)], left_up[:0:-1]])  # top -> bottom, bottom excl.
    x0l, x0r, x1l, x1r = float(left(0.0)), float(right(0.0)), float(left(H)), float(right(H))
    bottom = _polyline((x0l, 0.0), (x0r, 0.0), h)          # left -> right
    top = _polyline((x1r, H), (x1l, H), h)                 # right -> left
    # CCW: bottom (L->R), right side (up), top (R->L), left side (down).
    return np.concatenate([bottom, right_pts, top, left_pts]), params


def make_plate(rng_or_seed, mesh_size=0.03):
    """A random plate, roughly [0, 1] x [0, 1], meshed by ``triangle``.

    The bottom (y = 0) and top (y = 1) edges are straight; the left and right edges are smooth
    curves ``x = side_offset(y, ...)`` with five random parameters each (``_SIDE_RANGES``): the
    width change between bottom and top, a bulge or waist, and a smooth notch of random depth
    and height. The plate has four corners, one boundary loop. The outline is meshed with quality
    constraints (``'pq30a{area}'``: minimum angle 30 degrees, maximum area that of an equilateral triangle of
    side ``mesh_size``), so node counts differ from plate to plate.

    Args:
        rng_or_seed: a ``numpy.random.Generator``, an int or a tuple of ints (non-negative).
        mesh_size: target edge length, float in [0.005, 0.25]. 0.03 gives about 1-2k nodes.

    Returns:
        tuple: ``points`` (N, 2) float64, ``triangles`` (M, 3) int64 counterclockwise (positive
        areas), ``outline`` (K, 2) float64, the input polygon, counterclockwise.

    Raises:
        ValueError: ``mesh_size`` out of range or a negative seed.
        TypeError: ``rng_or_seed`` or ``mesh_size`` of the wrong type.
    """
    h = _check_mesh_size(mesh_size)
    rng = _rng(rng_or_seed)
    outline, _params = _outline(rng, h)
    points, triangles = _mesh_outline(outline, h)
    return points, triangles, outline


def _hexagon_outline(rng, h):
    """A random counterclockwise convex hexagon on the unit square: straight bottom (y = 0) and
    top (y = 1) edges from x = 0 to 1, each side two straight segments meeting at a kink pushed
    outward (``_HEX_RANGES``: 4 parameters). Returns (outline, corners (6, 2))."""
    H = _HEIGHT
    kinks = {}
    for side in ("left", "right"):
        q = {k: float(rng.uniform(*r)) for k, r in _HEX_RANGES.items()}
        kinks[side] = (q["kink_height"] * H, q["kink_size"])
    yl, dl = kinks["left"]
    yr, dr = kinks["right"]
    corners = np.array([(0.0, 0.0), (1.0, 0.0), (1.0 + dr, yr), (1.0, H), (0.0, H), (-dl, yl)])
    outline = np.concatenate([_polyline(corners[i], corners[(i + 1) % 6], h) for i in range(6)])
    return outline, corners


def make_hexagon(rng_or_seed, mesh_size=0.03):
    """A random hexagonal plate, roughly [0, 1] x [0, 1], meshed by ``triangle``.

    A convex polygon of six corners (a different shape class from :func:`make_plate`'s smooth
    sides, and a smaller one: 4 parameters): the bottom (y = 0) and top (y = 1) edges run from
    x = 0 to x = 1, and each side is two straight segments meeting at a kink pushed outward by
    0.1 to 0.25 at a height in [0.35, 0.65] (``_HEX_RANGES``); the boundary turns by more than 24
    degrees at every corner, so ``morph.boundary_corners(min_turn=15)`` finds all six. Meshed as
    :func:`make_plate`.

    Args:
        rng_or_seed: a ``numpy.random.Generator``, an int or a tuple of ints (non-negative).
        mesh_size: target edge length, float in [0.005, 0.25].

    Returns:
        tuple: ``points`` (N, 2) float64, ``triangles`` (M, 3) int64 counterclockwise,
        ``outline`` (K, 2) float64.
    """
    h = _check_mesh_size(mesh_size)
    rng = _rng(rng_or_seed)
    outline, _corners = _hexagon_outline(rng, h)
    points, triangles = _mesh_outline(outline, h)
    return points, triangles, outline


def _mesh_outline(outline, h):
    """Quality triangulation of a counterclockwise polygon: (points, triangles) CCW, one loop."""
    import triangle as tr

    k = len(outline)
    seg = np.stack([np.arange(k), (np.arange(k) + 1) % k], axis=1)
    area = math.sqrt(3) / 4 * h * h
    out = tr.triangulate({"vertices": outline, "segments": seg}, "pq30a%.10fQ" % area)
    points = np.asarray(out["vertices"], dtype=np.float64)
    triangles = np.asarray(out["triangles"], dtype=np.int64)
    # Drop unused vertices (triangle keeps none normally, but be sure).
    used = np.zeros(len(points), bool)
    used[triangles.ravel()] = True
    if not used.all():
        remap = np.cumsum(used) - 1
        points, triangles = points[used], remap[triangles]
    areas = _signed_areas(points, triangles)
    flip = areas < 0
    triangles[flip] = triangles[flip][:, [0, 2, 1]]
    assert np.all(np.abs(areas) > 0), "degenerate triangle from triangle"
    assert boundary_loops(triangles) == 1, "plate must have exactly one boundary loop"
    return points, triangles


# ------------------------------------------------------------------------------------- physics

def _element_stress(points, triangles, u, E, nu):
    """P1 element stresses (M, 3) (sxx, syy, sxy) in plane stress, and signed areas (M,)."""
    p = points[triangles]                                   # (M, 3, 2)
    x, y = p[..., 0], p[..., 1]
    area2 = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    # Gradients of the barycentric functions: dN_i/dx = (y_j - y_k) / 2A, dN_i/dy = (x_k - x_j) / 2A.
    dNdx = np.stack([y[:, 1] - y[:, 2], y[:, 2] - y[:, 0], y[:, 0] - y[:, 1]], 1) / area2[:, None]
    dNdy = np.stack([x[:, 2] - x[:, 1], x[:, 0] - x[:, 2], x[:, 1] - x[:, 0]], 1) / area2[:, None]
    ue = u[triangles]                                       # (M, 3, 2)
    exx = np.sum(dNdx * ue[..., 0], 1)
    eyy = np.sum(dNdy * ue[..., 1], 1)
    gxy = np.sum(dNdy * ue[..., 0] + dNdx * ue[..., 1], 1)
    c = E / (1.0 - nu * nu)
    sxx = c * (exx + nu * eyy)
    syy = c * (eyy + nu * exx)
    sxy = E / (2.0 * (1.0 + nu)) * gxy
    return np.stack([sxx, syy, sxy], 1), 0.5 * area2


def _von_mises(s):
    sxx, syy, sxy = s[..., 0], s[..., 1], s[..., 2]
    return np.sqrt(np.maximum(sxx * sxx - sxx * syy + syy * syy + 3.0 * sxy * sxy, 0.0))


def solve_elasticity(points, triangles, traction, E=1.0, nu=0.3, *, bottom="clamped",
                     body_force=None):
    """Linear elasticity in plane stress on a plate: bottom clamped, top under uniform traction
    (and optionally a uniform body force).

    P1 vector elements (scikit-fem ``ElementVector(ElementTriP1())``) with the plane-stress Lamé
    parameters ``lambda* = E nu / (1 - nu^2)``, ``mu = E / (2 (1 + nu))``; the traction is a
    boundary integral over the top facets (``FacetBasis``), the Dirichlet nodes are condensed out.

    Args:
        points: (N, 2) float64 node coordinates.
        triangles: (M, 3) int64 triangles.
        traction: (tx, ty), the uniform traction vector on the top edge (y = max y).
        E: Young's modulus, float > 0.
        nu: Poisson's ratio, float in (-1, 0.5).
        bottom: ``"clamped"`` (u = 0 on the bottom edge y = min y) or ``"roller"`` (u_y = 0 on the
            bottom edge and u_x = 0 at its leftmost node only: no lateral constraint, used for the
            analytic tension test).
        body_force: None or (bx, by), a uniform force per unit area over the whole plate (e.g.
            self-weight ``(0, -g)``), a domain integral of ``b . v``.

    Returns:
        dict: ``"u"`` (N, 2) float64 displacement; ``"sigma"`` (N, 3) float64 nodal stresses
        (sxx, syy, sxy); ``"sigma_vm"`` (N,) float64 nodal von Mises stress. Nodal values are the
        area-weighted averages of the constant element values over the triangles at each node
        (von Mises is computed per element, then averaged).

    Raises:
        ValueError: malformed mesh or parameters.
    """
    from skfem import (Basis, ElementTriP1, ElementVector, FacetBasis, LinearForm, MeshTri, asm,
                       condense, solve)
    from skfem.models.elasticity import linear_elasticity

    points, triangles = _check_mesh(points, triangles)
    t = np.asarray(traction, dtype=np.float64).ravel()
    if t.shape != (2,) or not np.all(np.isfinite(t)):
        raise ValueError("Expected traction to be 2 finite floats (tx, ty) but got %r" % (traction,))
    if not (math.isfinite(E) and E > 0):
        raise ValueError("Expected E > 0 but got %r" % (E,))
    if not (math.isfinite(nu) and -1.0 < nu < 0.5):
        raise ValueError("Expected nu in (-1, 0.5) but got %r" % (nu,))
    if bottom not in ("clamped", "roller"):
        raise ValueError("Expected bottom to be 'clamped' or 'roller' but got %r" % (bottom,))
    if body_force is not None:
        b = np.asarray(body_force, dtype=np.float64).ravel()
        if b.shape != (2,) or not np.all(np.isfinite(b)):
            raise ValueError("Expected body_force to be None or 2 finite floats (bx, by) but got %r"
                             % (body_force,))
    areas = _signed_areas(points, triangles)
    if np.any(areas <= 0):
        raise ValueError("Expected counterclockwise triangles (positive areas) but got %d with area <= 0"
                         % int(np.sum(areas <= 0)))

    ymin, ymax = points[:, 1].min(), points[:, 1].max()
    tol = 1e-9 * max(ymax - ymin, 1.0)
    mesh = MeshTri(points.T.copy(), triangles.T.copy())
    elem = ElementVector(ElementTriP1())
    basis = Basis(mesh, elem)
    lam = E * nu / (1.0 - nu * nu)
    mu = E / (2.0 * (1.0 + nu))
    K = asm(linear_elasticity(lam, mu), basis)

    top = mesh.facets_satisfying(lambda x: np.abs(x[1] - ymax) < tol, boundaries_only=True)
    bot = mesh.facets_satisfying(lambda x: np.abs(x[1] - ymin) < tol, boundaries_only=True)
    if len(top) == 0 or len(bot) == 0:
        raise ValueError("Expected a straight bottom and top edge (boundary facets at y = min and "
                         "y = max) but got %d bottom and %d top facets" % (len(bot), len(top)))
    tx, ty = float(t[0]), float(t[1])

    @LinearForm
    def load(v, w):
        val = v if isinstance(v, np.ndarray) else v.value   # skfem >= 8: fields are arrays
        return tx * val[0] + ty * val[1]

    f = asm(load, FacetBasis(mesh, elem, facets=top))
    if body_force is not None:
        bx, by = float(b[0]), float(b[1])

        @LinearForm
        def body(v, w):
            val = v if isinstance(v, np.ndarray) else v.value
            return bx * val[0] + by * val[1]

        f = f + asm(body, basis)
    nd = basis.nodal_dofs                                   # (2, N): u_x and u_y dof per node
    bot_nodes = np.unique(mesh.facets[:, bot].ravel())
    if bottom == "clamped":
        D = np.concatenate([nd[0, bot_nodes], nd[1, bot_nodes]])
    else:
        pin = bot_nodes[np.argmin(points[bot_nodes, 0])]
        D = np.concatenate([nd[1, bot_nodes], [nd[0, pin]]])
    x = solve(*condense(K, f, D=D))
    u = np.stack([x[nd[0]], x[nd[1]]], axis=1)

    s_el, a_el = _element_stress(points, triangles, u, E, nu)
    vm_el = _von_mises(s_el)
    n = len(points)
    w = np.zeros(n)
    np.add.at(w, triangles.ravel(), np.repeat(a_el, 3))
    sig = np.zeros((n, 3))
    vm = np.zeros(n)
    for k in range(3):
        np.add.at(sig, triangles[:, k], s_el * a_el[:, None])
        np.add.at(vm, triangles[:, k], vm_el * a_el)
    sig /= w[:, None]
    vm /= w
    return {"u": u, "sigma": sig, "sigma_vm": vm}


# ------------------------------------------------------------------------------------- dataset

def _sample(seed, i, mesh_size, family="plate"):
    if family == "plate":
        rng = item_rng(seed, i)
        points, triangles, _outline_ = make_plate(rng, mesh_size)
        tx = float(rng.uniform(*_LOAD_RANGES["tx"]))
        ty = float(rng.uniform(*_LOAD_RANGES["ty"]))
        e_factor = float(rng.uniform(*_LOAD_RANGES["E"]))
        sol = solve_elasticity(points, triangles, (tx, ty), E=e_factor, nu=0.3)
        x = [tx, ty, e_factor]
    elif family == "hexagon":
        rng = item_rng(seed, i, 1)
        points, triangles, _outline_ = make_hexagon(rng, mesh_size)
        x = [float(rng.uniform(*_HEX_LOADS[k])) for k in ("tx", "ty")]
        sol = solve_elasticity(points, triangles, (x[0], x[1]), E=1.0, nu=0.3)
    else:
        rng = item_rng(seed, i, 2)
        points, triangles, _outline_ = make_plate(rng, mesh_size)
        x = [float(rng.uniform(*_GRAVITY_LOADS[k])) for k in ("tx", "g")]
        sol = solve_elasticity(points, triangles, (x[0], 0.0), E=1.0, nu=0.3,
                               body_force=(0.0, -x[1]))
    unorm = np.linalg.norm(sol["u"], axis=1)
    return {
        "points": points,
        "triangles": triangles,
        "scalars_in": np.array(x, dtype=np.float64),
        "fields": {"u": sol["u"], "sigma_vm": sol["sigma_vm"]},
        "scalars_out": {"max_von_mises": float(sol["sigma_vm"].max()),
                        "max_u_norm": float(unorm.max())},
    }


def scaled_inputs(scalars_in):
    """The samples' input scalars ``[tx, ty, E]`` reparametrised as ``[tx / E, ty / E, E]``.

    Dimensional analysis of the plates' problem (plane-stress linear elasticity, one modulus E,
    fixed Poisson ratio): the displacement depends on the traction only through ``t / E`` (and
    is linear in it), the stress only through ``t``. The map is one-to-one, so a regression model
    loses nothing, but the displacement no longer has to be learnt as a ratio of two inputs:
    with MMGP on 250 plates the test RRMSE of ``u`` falls from 0.0102 to 0.0078 (BENCHMARKS.md).
    ``scripts/mmgp_benchmark.py`` and ``gshell mmgp fit`` use these inputs by default
    (``--inputs raw`` for the generator's own).

    Args:
        scalars_in: (3,) or (n, 3) float, ``[tx, ty, E]`` rows as in :func:`generate`'s samples,
            E > 0.

    Returns:
        float64 array of the same shape, ``[tx / E, ty / E, E]``.

    Raises:
        ValueError: wrong shape, non-finite values or E <= 0.
    """
    x = np.asarray(scalars_in, dtype=np.float64)
    if x.ndim not in (1, 2) or x.shape[-1] != 3:
        raise ValueError("Expected scalars_in of shape (3,) or (n, 3) [tx, ty, E] but got shape %s"
                         % (x.shape,))
    if not np.all(np.isfinite(x)):
        raise ValueError("Expected scalars_in to be finite but it holds NaN/Inf values")
    if np.any(x[..., 2] <= 0):
        raise ValueError("Expected scalars_in[..., 2] (Young's modulus E) > 0 but got min %r"
                         % (float(x[..., 2].min()),))
    out = x.copy()
    out[..., :2] /= x[..., 2:3]
    return out


def save_sample(path, sample):
    """Writes one sample to ``path`` (.npz) atomically: a temp file in the same folder, then
    ``os.replace``, so a reader never sees a partial file.

    Args:
        path: destination file name.
        sample: a dict as returned by :func:`generate`.
    """
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    arrays = {"points": sample["points"], "triangles": sample["triangles"],
              "scalars_in": sample["scalars_in"]}
    for k, v in sample["fields"].items():
        arrays["field_" + k] = v
    for k, v in sample["scalars_out"].items():
        arrays["out_" + k] = np.float64(v)
    save_npz(path, **arrays)


def load_sample(path):
    """Reads a sample written by :func:`save_sample`.

    Returns:
        dict: the same layout as the samples of :func:`generate`.
    """
    with np.load(path) as z:
        return {
            "points": z["points"].astype(np.float64),
            "triangles": z["triangles"].astype(np.int64),
            "scalars_in": z["scalars_in"].astype(np.float64),
            "fields": {k[6:]: z[k] for k in z.files if k.startswith("field_")},
            "scalars_out": {k[4:]: float(z[k]) for k in z.files if k.startswith("out_")},
        }


def _cache_name(seed, i, mesh_size, family="plate"):
    stem = "tensile2d" if family == "plate" else family
    return "%s_v%d_h%s_seed%d_%06d.npz" % (stem, _VERSION, repr(float(mesh_size)), seed, i)


def _check_family(family):
    if not isinstance(family, str) or family not in FAMILIES:
        raise ValueError("Expected family to be one of %s but got %r"
                         % (", ".join(repr(f) for f in FAMILIES), family))
    return family


def generate(n, seed=0, cache_dir=None, progress=True, mesh_size=0.03, family="plate", *,
             workers=0, address=None, return_summary=False):
    """Generates ``n`` samples of one family (domains with their own meshes, plane-stress
    solutions); by default the Tensile2d-like plates.

    Families (``FAMILIES`` names their input scalars; every sample is meshed on its own):

    - ``"plate"``: :func:`make_plate` (smooth sides, four corners) under a mostly tensile traction
      on the top, inputs ``[tx, ty, E]`` (see below);
    - ``"hexagon"``: :func:`make_hexagon` (six corners, straight segments: another shape class)
      under a traction ``tx`` in [-0.2, 0.2], ``ty`` in [0.5, 1.5] on the top, ``E = 1``; inputs
      ``[tx, ty]``;
    - ``"gravity"``: :func:`make_plate` outlines under another load type: their own weight, a
      body force ``(0, -g)``, ``g`` in [0.5, 2], and a shear traction ``tx`` in [0.1, 0.4] on the
      top (bending), ``E = 1``; inputs ``[tx, g]``.

    Sample ``i`` draws everything from ``gshell.parallel.item_rng(seed, i)`` (that is
    ``numpy.random.default_rng([seed, i])``; the other families from ``item_rng(seed, i, 1)`` and
    ``(seed, i, 2)``), so it is the same whatever ``n`` is and however many workers compute it.
    Random inputs: traction ``tx`` in [-0.1, 0.1], ``ty`` in [0.5, 1.5] on the
    top edge (mostly tension, as Tensile2d's pressure on the top), and a Young's modulus factor
    ``E`` in [0.8, 1.2] (nu = 0.3); plus the random outline (10 parameters, see
    :func:`make_plate`).

    The samples are computed by :func:`gshell.parallel.map_items`: in this process by default,
    or on Ray with ``workers`` / ``address``. With ``cache_dir`` each sample is written as it
    finishes and a rerun computes only the missing ones; a sample that fails is recorded in
    ``cache_dir/failures.jsonl`` while the others complete, then its error is raised.

    Args:
        n: number of samples, int >= 1.
        seed: int >= 0.
        cache_dir: folder for one ``.npz`` per sample (named by version, mesh size, seed and index);
            samples already there are read instead of recomputed. None: no cache.
        progress: show a progress bar (tqdm) on stderr.
        mesh_size: target edge length, float in [0.005, 0.25].
        family: ``"plate"``, ``"hexagon"`` or ``"gravity"``; each family draws its own samples
            (and caches them under its own file names).
        workers: int >= 0; 0: in this process; N >= 1: a local Ray instance with N CPUs (needs
            ``pip install "gshell-mesh[scale]"``).
        address: None or a Ray cluster address to join (``"auto"``, ...).
        return_summary: also return the job's :class:`gshell.parallel.Summary`.

    Returns:
        list of dict, one per sample: ``"points"`` (N_i, 2) float64, ``"triangles"`` (M_i, 3) int64,
        ``"scalars_in"`` (3,) float64 ``[tx, ty, E]`` (plates; (2,) for the other families, in
        the order of ``FAMILIES[family]``), ``"fields"`` {``"u"`` (N_i, 2) float64,
        ``"sigma_vm"`` (N_i,) float64}, ``"scalars_out"`` {``"max_von_mises"``: float,
        ``"max_u_norm"``: float}. With ``return_summary``: ``(samples, summary)``.

    Raises:
        ValueError: ``n < 1``, ``seed < 0``, ``mesh_size`` out of range, unknown ``family``,
            bad ``workers`` or ``address``.
        gshell.parallel.RayNotInstalledError: ``workers >= 1`` or ``address`` without Ray.
        Exception: the error of the first sample that failed (after the others completed).
    """
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    mesh_size = _check_mesh_size(mesh_size)
    family = _check_family(family)
    files = {}
    if cache_dir is not None:
        os.makedirs(os.fspath(cache_dir), exist_ok=True)
        files = dict(out_dir=cache_dir, names=[_cache_name(seed, i, mesh_size, family) for i in range(n)],
                     write=save_sample, read=load_sample)
    summary = map_items(functools.partial(_sample, seed, mesh_size=mesh_size, family=family), range(n),
                        keep_results=True, workers=workers, address=address,
                        desc="tensile2d" if family == "plate" else family, progress=progress, **files)
    summary.raise_failures()
    return (summary.results, summary) if return_summary else summary.results


def describe(samples, family=None):
    """Summary statistics of a list of samples (for the command line).

    Args:
        samples: list of dicts as returned by :func:`generate`.
        family: None or a name of ``FAMILIES``, which names the input scalars (None: the plates'
            names for three input scalars, ``x0, x1, ...`` otherwise).

    Returns:
        dict: ``"n_samples"``; ``"n_nodes"`` and ``"n_triangles"`` {min, max, mean};
        ``"scalars_in"`` {min, max} per component (lists); ``"scalars_out"`` {name: {min, max, mean}}.
    """
    if not isinstance(samples, (list, tuple)) or len(samples) == 0:
        raise ValueError("Expected samples to be a non-empty list of sample dicts but got %r"
                         % (type(samples).__name__ if not isinstance(samples, (list, tuple))
                            else "an empty list",))

    def stats(v):
        v = np.asarray(v, dtype=np.float64)
        return {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean())}

    nodes = [len(s["points"]) for s in samples]
    tris = [len(s["triangles"]) for s in samples]
    sin = np.stack([np.asarray(s["scalars_in"], dtype=np.float64) for s in samples])
    names = sorted(samples[0]["scalars_out"])
    if family is not None:
        names_in = list(FAMILIES[_check_family(family)])
    else:
        names_in = (["tx", "ty", "E"] if sin.shape[1] == 3
                    else ["x%d" % k for k in range(sin.shape[1])])
    if len(names_in) != sin.shape[1]:
        raise ValueError("Expected samples of family %r to have %d input scalars but got %d"
                         % (family, len(names_in), sin.shape[1]))
    n_st, t_st = stats(nodes), stats(tris)
    n_st["min"], n_st["max"] = int(n_st["min"]), int(n_st["max"])
    t_st["min"], t_st["max"] = int(t_st["min"]), int(t_st["max"])
    return {
        "n_samples": len(samples),
        "n_nodes": n_st,
        "n_triangles": t_st,
        "scalars_in": {"names": names_in, "min": sin.min(0).tolist(),
                       "max": sin.max(0).tolist()},
        "scalars_out": {k: stats([s["scalars_out"][k] for s in samples]) for k in names},
    }
