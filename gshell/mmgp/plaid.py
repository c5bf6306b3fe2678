"""PLAID datasets in and out: the format of the benchmarks MMGP is published on (Tensile2d,
Rotor37, AirfRANS, ...; https://plaid-lib.readthedocs.io, Casenave et al., "PLAID: A Unified Data
Model for Machine Learning on Heterogeneous Physics Simulations", arXiv:2505.02974).

A PLAID sample is a CGNS tree: a mesh base (``Base_2_2/Zone``: ``GridCoordinates``,
``Elements_TRI_3``, vertex fields under ``VertexFields``) and a ``Global`` base of scalars. A
problem definition names the input and output features by their CGNS paths
(``Global/P``, ``Base_2_2/Zone/VertexFields/U1``) and the samples of its train and test splits.
Two on-disk layouts are read:

- pyplaid >= 1.0 (``plaid.storage``): ``infos.yaml``, ``data/<split>/...`` (any backend: ``cgns``,
  ``hf_datasets``, ``zarr``) and ``problem_definitions/<name>.yaml``;
- pyplaid 0.1 (``Dataset.save_to_dir``, the Zenodo releases): ``dataset/samples/sample_*/``
  (``meshes/mesh_*.cgns`` and ``scalars.csv``) and ``problem_definition/`` (``problem_infos.yaml``
  with feature names, ``split.csv`` or ``split.json`` with the named splits, e.g. ``train_500``).

:func:`save_plaid` writes samples of :mod:`gshell.mmgp.dataset` in the first layout with the CGNS
backend. pyplaid (``pip install pyplaid``) is imported inside the functions that need it.

Example:
    >>> from gshell.mmgp import MMGP, load_plaid                    # doctest: +SKIP
    >>> train = load_plaid("Tensile2d", "train_500")                # doctest: +SKIP
    >>> model = MMGP().fit(*train)                                  # doctest: +SKIP
    >>> train.input_names, sorted(train.fields_out)                 # doctest: +SKIP
    (['P', 'p1', 'p2', 'p3', 'p4', 'p5'], ['U1', 'U2', 'sig11', 'sig12', 'sig22'])
"""
import csv
import json
import os

import numpy as np

__all__ = ["PlaidSplit", "MissingFeatureError", "load_plaid", "save_plaid", "plaid_layout",
           "list_problems"]

_GLOBAL = "Global"
_BASE, _ZONE, _FIELDS = "Base_2_2", "Zone", "VertexFields"
_SURFACE_ELEMENTS = ("TRI_3", "TRI_6", "TRI_9", "TRI_10", "QUAD_4", "QUAD_8", "QUAD_9", "MIXED",
                     "NGON_n")


class MissingFeatureError(ValueError):
    """A feature of the problem is missing from a sample (as the outputs of the PLAID
    benchmarks' test splits, which are withheld): read the inputs alone with ``outputs=[]``."""


class PlaidSplit(tuple):
    """``(meshes, scalars_in, fields_out, scalars_out)``, the arguments of
    :meth:`gshell.mmgp.MMGP.fit` (``model.fit(*split)``), with the features' names.

    Attributes:
        meshes: list of n ``(points (N_i, 2) float64, triangles (M_i, 3) int64)`` (points
            (N_i, 3) for a surface read with ``planar=False``).
        scalars_in: (n, p) float64, columns in the order of ``input_names``.
        fields_out: dict name -> list of n (N_i,) float64 vertex fields.
        scalars_out: dict name -> (n,) float64.
        input_names: list of p input scalar names.
        ids: list of n ``(stored split, sample id)`` pairs, the samples read, in order.
        paths: dict name -> the feature's CGNS path (``Global/P``, ``Base_2_2/Zone/VertexFields/U1``).
    """

    def __new__(cls, meshes, scalars_in, fields_out, scalars_out, input_names, ids, paths):
        self = super().__new__(cls, (meshes, scalars_in, fields_out, scalars_out))
        self.input_names, self.ids, self.paths = list(input_names), list(ids), dict(paths)
        return self

    meshes = property(lambda self: self[0])
    scalars_in = property(lambda self: self[1])
    fields_out = property(lambda self: self[2])
    scalars_out = property(lambda self: self[3])

    def samples(self):
        """The samples as dicts of :mod:`gshell.mmgp.dataset` (``points``, ``triangles``,
        ``scalars_in``, ``fields``, ``scalars_out``), e.g. for :func:`gshell.mmgp.evaluate.evaluate`."""
        return [{"points": p, "triangles": t, "scalars_in": self.scalars_in[i],
                 "fields": {k: v[i] for k, v in self.fields_out.items()},
                 "scalars_out": {k: float(v[i]) for k, v in self.scalars_out.items()}}
                for i, (p, t) in enumerate(self.meshes)]


def _import_plaid():
    """Imports pyplaid. Its first import calls ``logging.basicConfig(level=INFO)``, which would
    print every library's INFO messages (scikit-fem's, ...): when it is this import that configured
    the root logger, its handler and level are put back as they were."""
    import logging
    import sys

    root = logging.getLogger()
    first = "plaid" not in sys.modules
    handlers, level = list(root.handlers), root.level
    try:
        import plaid  # noqa: F401
        import plaid.storage  # noqa: F401
    except ImportError as e:
        raise ImportError("gshell.mmgp.plaid needs pyplaid: pip install pyplaid (%s)" % e) from None
    finally:
        if first and not handlers:
            for h in [h for h in root.handlers if h not in handlers]:
                root.removeHandler(h)
            root.setLevel(level)
    logging.getLogger("plaid").setLevel(logging.WARNING)
    return plaid


# ------------------------------------------------------------------------------------ layouts
def plaid_layout(path):
    """Which PLAID layout the folder ``path`` holds: ``"storage"`` (pyplaid >= 1.0: ``infos.yaml``
    and ``data/``), ``"legacy"`` (pyplaid 0.1: ``dataset/samples/``) or None (not a PLAID dataset)."""
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, "infos.yaml")) and os.path.isdir(os.path.join(path, "data")):
        return "storage"
    if os.path.isdir(os.path.join(path, "dataset", "samples")):
        return "legacy"
    return None


def _check_folder(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError("Expected a PLAID dataset folder but %r does not exist" % path)
    if not os.path.isdir(path):
        raise NotADirectoryError("Expected a PLAID dataset folder but %r is not a folder" % path)
    kind = plaid_layout(path)
    if kind is None:
        raise ValueError("Expected a PLAID dataset in %r (infos.yaml and data/, or dataset/samples/) "
                         "but found neither" % path)
    return path, kind


class _Storage:
    """A pyplaid >= 1.0 dataset: samples through ``plaid.storage.init_from_disk``."""

    def __init__(self, path):
        _import_plaid()
        from plaid.storage import init_from_disk, load_problem_definitions_from_disk

        try:
            self.datasets, self.converters = init_from_disk(path)
            pbs = load_problem_definitions_from_disk(path) or {}
        except Exception as e:
            raise ValueError("Expected a readable PLAID dataset in %r but pyplaid failed: %s: %s"
                             % (path, type(e).__name__, e)) from None
        self.problems = {k: {"inputs": list(p.input_features), "outputs": list(p.output_features),
                             "train": dict(p.train_split), "test": dict(p.test_split)}
                         for k, p in sorted(pbs.items())}

    def stored_ids(self, split):
        ds = self.datasets[split]
        return [int(i) for i in getattr(ds, "ids", range(len(ds)))]

    def sample(self, split, i):
        return self.converters[split].to_plaid(self.datasets[split], i)


class _Legacy:
    """A pyplaid 0.1 dataset: ``dataset/samples/sample_%09d`` (CGNS meshes, ``scalars.csv``)."""

    def __init__(self, path):
        _import_plaid()
        self.root = os.path.join(path, "dataset", "samples")
        ids = sorted(int(d[7:]) for d in os.listdir(self.root)
                     if d.startswith("sample_") and d[7:].isdigit())
        self.datasets = {"all": ids}
        self.problems = {}
        pdir = os.path.join(path, "problem_definition")
        if os.path.isdir(pdir):
            self.problems["problem_definition"] = self._problem(pdir, ids)

    @staticmethod
    def _problem(pdir, ids):
        import yaml

        with open(os.path.join(pdir, "problem_infos.yaml"), encoding="utf-8") as f:
            info = yaml.safe_load(f) or {}
        splits = {}
        if os.path.isfile(os.path.join(pdir, "split.json")):
            with open(os.path.join(pdir, "split.json"), encoding="utf-8") as f:
                splits = {k: [int(i) for i in v] for k, v in json.load(f).items()}
        elif os.path.isfile(os.path.join(pdir, "split.csv")):
            with open(os.path.join(pdir, "split.csv"), newline="", encoding="utf-8") as f:
                splits = {r[0]: [int(i) for i in r[1:]] for r in csv.reader(f) if r}
        if any(k in info for k in ("input_scalars", "output_scalars", "output_fields")):
            inputs = [_GLOBAL + "/" + n for n in info.get("input_scalars") or []]
            outputs = ([_GLOBAL + "/" + n for n in info.get("output_scalars") or []]
                       + ["*/" + n for n in info.get("output_fields") or []])
        else:                               # 0.1.8+: feature identifiers
            inputs = [f for f in map(_identifier, info.get("input_features") or []) if f]
            outputs = [f for f in map(_identifier, info.get("output_features") or []) if f]
        return {"inputs": inputs, "outputs": outputs, "named": splits}

    def stored_ids(self, split):
        return list(self.datasets[split])

    def sample(self, split, i):
        from plaid import Sample

        d = os.path.join(self.root, "sample_%09d" % i)
        s = Sample.load_from_dir(d)
        scal = os.path.join(d, "scalars.csv")
        if os.path.isfile(scal):
            with open(scal, newline="", encoding="utf-8") as f:
                rows = [r for r in csv.reader(f) if r]
            if len(rows) >= 2:
                for name, value in zip(rows[0], rows[1]):
                    s.add_global(name.strip(), np.array([float(value)]))
        return s


def _identifier(f):
    """A pyplaid 0.1 feature identifier (a path, or {"type": "scalar" | "field", "name", ...})
    as a CGNS path ("*/name" for a field to find in the sample); None for other types."""
    if isinstance(f, str):
        return f
    if not isinstance(f, dict) or "name" not in f:
        return None
    if f.get("type") == "scalar":
        return _GLOBAL + "/" + f["name"]
    if f.get("type") == "field":
        if f.get("base") and f.get("zone"):
            return "%s/%s/%sFields/%s" % (f["base"], f["zone"], f.get("location", "Vertex"), f["name"])
        return "*/" + f["name"]
    return None


def list_problems(path):
    """Names of the problem definitions of the PLAID dataset at ``path`` and their splits.

    Returns:
        dict problem name -> {"inputs": [paths], "outputs": [paths], "splits": [split names]}.
    """
    path, kind = _check_folder(path)
    ds = _Storage(path) if kind == "storage" else _Legacy(path)
    return {k: {"inputs": p["inputs"], "outputs": p["outputs"], "splits": _split_names(ds, p)}
            for k, p in ds.problems.items()}


def _split_names(ds, problem):
    names = list(problem.get("named", {})) if problem and "named" in problem else []
    if problem and "train" in problem:
        names += ["train", "test"]
    return names + [s for s in ds.datasets if s not in names]


def _choose_problem(path, ds, problem):
    if problem is None:
        if len(ds.problems) > 1:
            raise ValueError("Expected problem= one of %s for %r, which defines several"
                             % (", ".join(repr(k) for k in ds.problems), path))
        return next(iter(ds.problems.values()), None)
    if problem not in ds.problems:
        raise ValueError("Expected problem to be one of %s but got %r (problem definitions of %r)"
                         % (", ".join(repr(k) for k in ds.problems) or "(none)", problem, path))
    return ds.problems[problem]


def _sample_ids(path, ds, problem, split):
    """[(stored split, id)] of ``split``: a problem's train/test, a legacy named split or a
    stored split (all its samples)."""
    if not isinstance(split, str):
        raise TypeError("Expected split to be a str but got %s" % type(split).__name__)
    if problem is not None and split in problem.get("named", {}):
        return [("all", i) for i in problem["named"][split]]
    if problem is not None and split in ("train", "test") and split in problem:
        out = []
        for stored, ids in problem[split].items():
            if stored not in ds.datasets:
                raise ValueError("Expected the problem's %s split to name stored splits of %r but "
                                 "got %r (stored: %s)" % (split, path, stored, ", ".join(ds.datasets)))
            out += [(stored, i) for i in (ds.stored_ids(stored) if ids == "all" else ids)]
        return out
    if split in ds.datasets:
        return [(split, i) for i in ds.stored_ids(split)]
    raise ValueError("Expected split to be one of %s but got %r (splits of %r)"
                     % (", ".join(repr(s) for s in _split_names(ds, problem)), split, path))


# ------------------------------------------------------------------------------------ features
def _globals(sample):
    return [n for n in sample.get_global_names() if n != "Time"]


def _mesh_zone(sample, field_paths):
    """(base, zone) of the mesh: that of the output fields, else the first non-Global base's
    first zone."""
    for p in field_paths:
        parts = p.split("/")
        if len(parts) == 4 and parts[0] != "*":
            return parts[0], parts[1]
    for b in sample.get_base_names():
        if b != _GLOBAL:
            zones = sample.get_zone_names(base=b)
            if zones:
                return b, zones[0]
    raise ValueError("Expected a PLAID sample with a mesh base but found bases %s"
                     % sample.get_base_names())


def _resolve(sample, names, kind):
    """CGNS paths of feature names: a path as is, a global scalar name -> Global/name, a vertex
    field name -> its path."""
    out = {}
    scalars = set(_globals(sample))
    for n in names:
        if not isinstance(n, str):
            raise TypeError("Expected %s feature names to be str but got %r" % (kind, n))
        if n.startswith("*/"):              # legacy field name: its path in this sample
            n = n[2:]
        if "/" in n:
            out[n.split("/")[-1]] = n
        elif n in scalars:
            out[n] = _GLOBAL + "/" + n
        else:
            path = _field_path(sample, n)
            if path is None:
                raise MissingFeatureError("Expected %s features among the sample's scalars %s and vertex "
                                 "fields %s but got %r" % (kind, sorted(scalars),
                                                           sample.get_field_names(location="Vertex"), n))
            out[n] = path
    return out


def _field_path(sample, name):
    for b in sample.get_base_names():
        if b == _GLOBAL:
            continue
        for z in sample.get_zone_names(base=b):
            import CGNS.PAT.cgnsutils as CGU
            zone = sample.get_zone(zone=z, base=b)
            for fp in CGU.getPathsByTypeSet(zone, ["FlowSolution_t"]):
                loc = CGU.getValueByPath(zone, fp + "/GridLocation")
                if (loc is None or loc.tobytes().decode() == "Vertex") and \
                        CGU.getValueByPath(zone, fp + "/" + name) is not None:
                    return "/".join([b, z, fp.strip("/").split("/")[-1], name])
    return None


def _split_features(paths):
    """(scalar paths, field paths, other paths) of a list of CGNS paths."""
    scal = [p for p in paths if p.split("/")[0] in (_GLOBAL, "Global_times")]
    fields = [p for p in paths if p not in scal and (p.startswith("*/") or (
        len(p.split("/")) == 4 and p.split("/")[2] not in ("GridCoordinates", "ZoneBC")
        and not p.split("/")[2].startswith("Elements_")))]
    return scal, fields, [p for p in paths if p not in scal and p not in fields]


def _read_mesh(sample, base, zone, where, planar):
    nodes = sample.get_nodes(zone=zone, base=base)
    if nodes is None:
        raise ValueError("Expected nodes in %s/%s of %s but found none" % (base, zone, where))
    nodes = np.asarray(nodes, dtype=np.float64)
    if nodes.shape[1] == 3 and planar:
        if np.ptp(nodes[:, 2]) > 0:
            raise ValueError("Expected a planar 2D mesh in %s (MMGP maps 2D meshes; planar=False "
                             "reads the 3D nodes) but its nodes' z ranges over [%g, %g]"
                             % (where, nodes[:, 2].min(), nodes[:, 2].max()))
        nodes = nodes[:, :2]
    elements = sample.get_elements(zone=zone, base=base)
    other = sorted(k for k in elements if k in _SURFACE_ELEMENTS and k != "TRI_3")
    if other:
        raise ValueError("Expected a mesh of 3-node triangles (TRI_3) in %s but it has %s elements"
                         % (where, ", ".join(other)))
    if "TRI_3" not in elements:
        raise ValueError("Expected TRI_3 elements in %s but found %s"
                         % (where, ", ".join(sorted(elements)) or "none"))
    return np.ascontiguousarray(nodes), np.ascontiguousarray(elements["TRI_3"], dtype=np.int64)


def _value(sample, path, where):
    v = sample.get_feature_by_path(path)
    if v is None:
        raise MissingFeatureError("Expected feature %r in %s but it is missing (the PLAID "
                                  "benchmarks withhold their test outputs: read the inputs with "
                                  "outputs=[])" % (path, where))
    return np.asarray(v, dtype=np.float64)


def load_plaid(path, split, problem=None, inputs=None, outputs=None, planar=True):
    """Reads one split of a PLAID dataset as MMGP's training or test data.

    Args:
        path: folder of a PLAID dataset (either layout, see the module docstring).
        split: ``"train"`` or ``"test"`` (the problem definition's train/test split), a named
            split of a pyplaid 0.1 problem (``"train_500"``, ``"test"``), or a stored split
            (all its samples, e.g. ``"train"`` of ``data/train``).
        problem: name of the problem definition (``problems/<name>.yaml``); needed only when the
            dataset defines several (:func:`list_problems`).
        inputs: optional list of input scalar names or CGNS paths, instead of the problem's
            (mesh inputs, the coordinates and connectivity, are always read).
        outputs: optional list of output names or paths (global scalars and vertex fields),
            instead of the problem's; ``[]`` reads no outputs (a test split whose outputs are
            withheld, as the PLAID benchmarks' are).
        planar: read (N, 3) nodes with a constant z as (N, 2) and refuse others (MMGP's meshes
            are 2D); False keeps the nodes as stored, (N, 2) or (N, 3) (a surface such as
            Rotor37's blades).

    Returns:
        :class:`PlaidSplit`: ``(meshes, scalars_in, fields_out, scalars_out)`` with
        ``input_names``, ``ids`` and ``paths``; input scalars in the problem's order (PLAID sorts
        feature paths), fields and scalars in float64, triangles int64 (0-based).

    Raises:
        FileNotFoundError / NotADirectoryError: ``path`` is missing or not a folder.
        ValueError: not a PLAID dataset, unknown split, problem or feature, no features to read,
            non-triangle elements or a non-planar mesh, a field not on the vertices;
            :class:`MissingFeatureError` (a ValueError) for a feature missing from a sample.
        ImportError: pyplaid is not installed.
    """
    path, kind = _check_folder(path)
    ds = _Storage(path) if kind == "storage" else _Legacy(path)
    prob = _choose_problem(path, ds, problem)
    ids = _sample_ids(path, ds, prob, split)
    if not ids:
        raise ValueError("Expected samples in split %r of %r but it is empty" % (split, path))
    in_names = list(inputs) if inputs is not None else (prob["inputs"] if prob else None)
    out_names = list(outputs) if outputs is not None else (prob["outputs"] if prob else None)
    if in_names is None or out_names is None:
        raise ValueError("Expected inputs= and outputs= for %r, which has no problem definition"
                         % path)
    first = ds.sample(*ids[0])
    where0 = "sample %d of split %r of %r" % (ids[0][1], ids[0][0], path)
    in_scal, _, _ = _split_features(list(_resolve(first, _expand(in_names), "input").values()))
    out_paths = _resolve(first, _expand(out_names), "output")
    o_scal, o_fields, o_other = _split_features(list(out_paths.values()))
    if o_other:
        raise ValueError("Expected outputs that are global scalars or vertex fields but got %s"
                         % o_other)
    for p in o_fields:
        if p.split("/")[2] != _fields_container(first, p):
            raise ValueError("Expected vertex fields but %r is not on the vertices" % p)
    if not o_scal and not o_fields and out_names:
        raise ValueError("Expected output scalars or fields in %s but the outputs %s name none"
                         % (where0, out_names))
    base, zone = _mesh_zone(first, o_fields)
    name_of = {p: p.split("/")[-1] for p in in_scal + o_scal + o_fields}
    meshes, X = [], np.zeros((len(ids), len(in_scal)))
    F = {name_of[p]: [] for p in o_fields}
    S = {name_of[p]: np.zeros(len(ids)) for p in o_scal}
    for k, (stored, i) in enumerate(ids):
        s = first if k == 0 else ds.sample(stored, i)
        where = "sample %d of split %r of %r" % (i, stored, path)
        pts, tri = _read_mesh(s, base, zone, where, planar)
        meshes.append((pts, tri))
        for j, p in enumerate(in_scal):
            X[k, j] = _scalar(_value(s, p, where), p, where)
        for p in o_scal:
            S[name_of[p]][k] = _scalar(_value(s, p, where), p, where)
        for p in o_fields:
            f = _value(s, p, where).reshape(-1)
            if f.shape[0] != pts.shape[0]:
                raise ValueError("Expected field %r of %d values (one per node) in %s but got %d"
                                 % (p, pts.shape[0], where, f.shape[0]))
            F[name_of[p]].append(f)
    return PlaidSplit(meshes, X, F, S, [name_of[p] for p in in_scal], ids,
                      {name_of[p]: p for p in in_scal + o_scal + o_fields})


def _expand(names):
    if isinstance(names, str):
        return [names]
    return list(names)


def _scalar(v, path, where):
    if v.size != 1:
        raise ValueError("Expected scalar feature %r in %s but it holds %d values"
                         % (path, where, v.size))
    return float(v.reshape(-1)[0])


def _fields_container(sample, path):
    """The FlowSolution name of ``path`` when it is at the Vertex location, else None."""
    import CGNS.PAT.cgnsutils as CGU
    b, z, fs, _ = path.split("/")
    loc = CGU.getValueByPath(sample.get_tree(), "/".join([b, z, fs, "GridLocation"]))
    if loc is None or loc.tobytes().decode() == "Vertex":
        return fs
    return None


# ------------------------------------------------------------------------------------ writing
def _component_names(name, c):
    return [name] if c == 0 else ["%s_%s" % (name, "xyz"[k] if c <= 3 else str(k)) for k in range(c)]


def _to_sample(s, input_names):
    """A plaid.Sample of a :mod:`gshell.mmgp.dataset` sample dict."""
    from CGNS.PAT import cgnskeywords as CGK
    from CGNS.PAT import cgnslib as CGL
    from plaid import Sample

    pts = np.asarray(s["points"], dtype=np.float64)
    tri = np.asarray(s["triangles"], dtype=np.int64)
    out = Sample()
    out.init_base(2, 2, _BASE, time=0.0)
    zone = out.init_zone(np.array([[len(pts), len(tri), 0]], dtype=np.int64), zone=_ZONE,
                         base=_BASE, time=0.0)
    out.set_nodes(pts, zone=_ZONE, base=_BASE, time=0.0)
    conn = (tri + 1).reshape(-1)            # CGNS numbers nodes from 1
    CGL.newElements(zone, "Elements_TRI_3", CGK.TRI_3, np.array([1, len(tri)], dtype=np.int64),
                    conn.astype(np.int32) if len(pts) < 2 ** 31 else conn)
    for name, f in s["fields"].items():
        f = np.asarray(f, dtype=np.float64)
        cols = f.reshape(len(pts), -1) if f.ndim == 2 else f[:, None]
        for k, n in enumerate(_component_names(name, f.shape[1] if f.ndim == 2 else 0)):
            out.add_field(n, np.ascontiguousarray(cols[:, k]), zone=_ZONE, base=_BASE, time=0.0)
    for name, v in zip(input_names, np.asarray(s["scalars_in"], dtype=np.float64).reshape(-1)):
        out.add_global(name, np.array([v]), time=0.0)
    for name, v in s["scalars_out"].items():
        out.add_global(name, np.array([float(v)]), time=0.0)
    return out


def save_plaid(path, samples, splits, input_names=None, problem="regression", overwrite=False):
    """Writes samples of :mod:`gshell.mmgp.dataset` as a PLAID dataset (pyplaid >= 1.0 layout,
    CGNS backend), readable by :func:`load_plaid` and by pyplaid.

    Each sample becomes ``Base_2_2/Zone`` (nodes, ``Elements_TRI_3``, vertex fields: a vector
    field ``u`` (N, 2) as ``u_x`` and ``u_y``) and ``Global`` (input and output scalars); the
    problem definition ``problem_definitions/<problem>.yaml`` has the input scalars as inputs
    (with the mesh), the fields and output scalars as outputs, and each split as stored.

    Args:
        path: output folder; must not exist or be empty unless ``overwrite`` (then it is replaced).
        samples: list of sample dicts (``points``, ``triangles``, ``scalars_in``, ``fields``,
            ``scalars_out``), all with the same field and scalar names.
        splits: dict split name -> list of indices into ``samples``, e.g.
            ``{"train": range(250), "test": range(250, 350)}``; the problem trains on ``"train"``
            and tests on ``"test"`` (or on the first and last split given).
        input_names: names of the input scalars (default: ``tx, ty, E`` for three, else
            ``x0, x1, ...``).
        problem: the problem definition's name.
        overwrite: replace an existing non-empty folder.

    Returns:
        str: ``path``.
    """
    _import_plaid()
    from plaid import Infos, ProblemDefinition
    from plaid.storage import save_to_disk

    if not isinstance(samples, (list, tuple)) or not samples:
        raise ValueError("Expected samples to be a non-empty list of sample dicts")
    if not isinstance(splits, dict) or not splits:
        raise ValueError("Expected splits to be a non-empty dict split name -> sample indices")
    ids = {}
    for name, idx in splits.items():
        idx = [int(i) for i in idx]
        if not idx or min(idx) < 0 or max(idx) >= len(samples):
            raise ValueError("Expected split %r to hold indices in [0, %d) but got %s"
                             % (name, len(samples), "none" if not idx else "[%d, %d]" % (min(idx), max(idx))))
        ids[str(name)] = idx
    p = len(np.asarray(samples[0]["scalars_in"]).reshape(-1))
    if input_names is None:
        input_names = ["tx", "ty", "E"] if p == 3 else ["x%d" % k for k in range(p)]
    input_names = [str(n) for n in input_names]
    if len(input_names) != p:
        raise ValueError("Expected %d input_names but got %d" % (p, len(input_names)))
    s0 = samples[0]
    fields = [n for k, f in s0["fields"].items()
              for n in _component_names(k, np.shape(f)[1] if np.ndim(f) == 2 else 0)]
    outputs = ["%s/%s/%s/%s" % (_BASE, _ZONE, _FIELDS, n) for n in fields] + \
              [_GLOBAL + "/" + n for n in s0["scalars_out"]]
    inputs = [_GLOBAL + "/" + n for n in input_names] + \
             ["%s/%s/GridCoordinates/Coordinate%s" % (_BASE, _ZONE, c) for c in "XY"] + \
             ["%s/%s/Elements_TRI_3/ElementConnectivity" % (_BASE, _ZONE)]
    names = list(ids)
    train, test = ("train" if "train" in ids else names[0]), ("test" if "test" in ids else names[-1])
    pb = ProblemDefinition(input_features=inputs, output_features=outputs,
                           train_split={train: "all"}, test_split={test: "all"})
    per_split = {name: [samples[i] for i in idx] for name, idx in ids.items()}
    # one save_to_disk call for all splits (a second call would reset the folder), its ids
    # (split, index) pairs that the constructor maps to samples
    save_to_disk(os.fspath(path), sample_constructor=_SplitConstructor(per_split, input_names),
                 ids={name: [(name, i) for i in range(len(v))] for name, v in per_split.items()},
                 backend="cgns", infos=Infos(owner="gshell", license="unknown"),
                 pb_defs={problem: pb}, overwrite=overwrite)
    return os.fspath(path)


class _SplitConstructor:
    """Picklable ``(split, index) -> plaid.Sample``."""

    def __init__(self, per_split, input_names):
        self.per_split, self.input_names = per_split, input_names

    def __call__(self, key):
        name, i = key
        return _to_sample(self.per_split[name][i], self.input_names)
