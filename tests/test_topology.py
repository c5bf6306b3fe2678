"""gshell.topology: the one place mesh statistics are computed, against plain references."""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gshell import topology as T
from gshell.cli import main


def torus(n=8, m=6):
    f = []
    for i in range(n):
        for j in range(m):
            a, b = i * m + j, ((i + 1) % n) * m + j
            c, d = ((i + 1) % n) * m + (j + 1) % m, i * m + (j + 1) % m
            f += [[a, b, c], [a, c, d]]
    return np.array(f)


def grid(n=4):
    f = []
    for i in range(n):
        for j in range(n):
            a = i * (n + 1) + j
            f += [[a, a + 1, a + n + 2], [a, a + n + 2, a + n + 1]]
    return np.array(f)


OCTA = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])


@pytest.mark.parametrize("faces,loops,components,chi,genus,nm_verts", [
    (torus(), 0, 1, 0, 1, 0),
    (grid(), 1, 1, 1, 0, 0),
    (OCTA, 0, 1, 2, 0, 0),
    (np.concatenate([OCTA, OCTA + 6]), 0, 2, 4, 0, 0),
    (np.concatenate([OCTA, np.where(OCTA == 0, 0, OCTA + 5)]), 0, 1, 3, None, 1),  # two spheres, one vertex
    (np.array([[0, 1, 2], [0, 3, 4]]), 1, 1, 1, None, 1),                         # a bowtie
])
def test_hand_made_cases(faces, loops, components, chi, genus, nm_verts):
    t = T.topology(faces)
    assert (t["boundary_loops"], t["components"], t["euler_characteristic"], t["genus"],
            t["nonmanifold_vertices"]) == (loops, components, chi, genus, nm_verts)
    if genus is None:
        assert "non-manifold vertices" in t["genus_undefined"]


def test_flipped_faces_and_non_manifold_edges_are_named():
    t = T.topology(np.concatenate([OCTA[:7], OCTA[7:, ::-1]]))
    assert t["genus"] is None and "oriented" in t["genus_undefined"] and t["watertight"]
    t = T.topology(np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]]))
    assert t["nonmanifold_edges"] == 1 and "non-manifold edges" in t["genus_undefined"]


def _fans_reference(faces):
    """Plain reference: vertices whose faces split into several groups joined across edges at the
    vertex, or that lie on an edge of more than two faces."""
    faces = [tuple(f) for f in faces.tolist()]
    edge_faces = {}
    for i, f in enumerate(faces):
        for k in range(3):
            e = tuple(sorted((f[k], f[(k + 1) % 3])))
            edge_faces.setdefault(e, []).append(i)
    bad = {v for e, fs in edge_faces.items() if len(fs) > 2 for v in e}
    around = {}
    for i, f in enumerate(faces):
        for v in f:
            around.setdefault(v, []).append(i)
    for v, fs in around.items():
        seen, todo = {fs[0]}, [fs[0]]
        while todo:
            i = todo.pop()
            for u in faces[i]:
                if u == v:
                    continue
                for j in edge_faces[tuple(sorted((u, v)))]:
                    if j not in seen and len(edge_faces[tuple(sorted((u, v)))]) == 2:
                        seen.add(j)
                        todo.append(j)
        if len(seen) != len(fs):
            bad.add(v)
    return sorted(bad)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), keep=st.floats(0.3, 1.0), glue=st.integers(0, 6))
def test_random_meshes_against_plain_references(seed, keep, glue):
    """Random pieces of a torus, with some vertices glued together (making pinches): components,
    loops and non-manifold vertices agree with plain references, and the genus is a whole number
    or None with a reason."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    r = np.random.default_rng(seed)
    f = torus(10, 7)
    f = f[r.random(len(f)) < keep]
    if glue:
        a, b = r.integers(0, 70, glue), r.integers(0, 70, glue)
        f = np.where(np.isin(f, b), a[np.searchsorted(np.sort(b), f.clip(0, None)) % glue], f)
        f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])]
    if len(f) == 0:
        return
    t = T.topology(f, 70)
    e = T.edge_face_counts(f, 70)[0]
    used = np.unique(f)
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(70, 70))
    _, lab = connected_components(g, directed=False)
    assert t["components"] == len(np.unique(lab[used]))
    assert T.nonmanifold_vertices(f, 70).tolist() == _fans_reference(f)
    assert t["genus"] is None or (isinstance(t["genus"], int) and t["genus"] >= 0)
    assert (t["genus"] is None) == (t["genus_undefined"] is not None)
    for c in t["component_genus"]:
        assert c["genus"] is None or isinstance(c["genus"], int)


def test_union_find_against_scipy():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    r = np.random.default_rng(0)
    for n, m in ((1, 0), (10, 3), (2000, 1500), (5000, 20000)):
        a, b = r.integers(0, n, m), r.integers(0, n, m)
        lab = T.connected_components(n, a, b)
        k, ref = connected_components(coo_matrix((np.ones(m), (a, b)), shape=(n, n)), directed=False)
        assert lab.max() + 1 == k and len(set(zip(lab.tolist(), ref.tolist()))) == k
        first = [int(np.nonzero(lab == c)[0][0]) for c in range(k)]
        assert first == sorted(first)  # numbered in order of the smallest node


def test_a_long_chain_merges_in_few_rounds():
    n = 200000
    lab = T.connected_components(n, np.arange(n - 1), np.arange(1, n))
    assert (lab == 0).all()


def test_info_names_non_manifold_vertices_never_a_fractional_genus(samples, capsys):
    """pymeshlab's range scan has pinched vertices: the genus is not defined, and says why."""
    path = os.path.join(samples, "rangemaps", "face000.ply")
    if not os.path.exists(path):
        pytest.skip("no rangemaps/face000.ply in this pymeshlab")
    assert main(["info", path]) == 0
    out = capsys.readouterr().out
    genus = [ln for ln in out.splitlines() if ln.strip().startswith("genus")][0]
    assert "non-manifold vertices" in genus
    assert not any(".5" in ln for ln in out.splitlines() if "genus" in ln)
    assert main(["info", path, "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["genus"] is None and info["nonmanifold_vertices"] > 0
    assert all(c["genus"] is None or isinstance(c["genus"], int) for c in info["component_genus"])


def test_bad_faces_are_refused():
    with pytest.raises(ValueError, match="indices"):
        T.topology(np.array([[0, 1, -7]]))
    with pytest.raises(TypeError, match="integer"):
        T.topology(np.array([[0.0, 1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"\(F, 3\)"):
        T.topology(np.array([[0, 1]]))
    assert T.topology(np.zeros((0, 3), np.int64), 0)["components"] == 0
