"""The README's Python example runs as written."""
import os
import re
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        blocks = re.findall(r"```python\n(.*?)```", fh.read(), flags=re.S)
    assert blocks, "README.md has no python example"
    shutil.copytree(os.path.join(ROOT, "assets"), tmp_path / "assets")  # the demo asset
    monkeypatch.chdir(tmp_path)
    spaces = []
    for code in blocks:
        namespace = {"__name__": "readme"}
        exec(compile(code, "README.md", "exec"), namespace)
        spaces.append(namespace)
    out = spaces[0]["out"]
    assert out.boundary_loops == 1
    assert spaces[0]["verts"].shape == out.verts.shape
    assert (tmp_path / "bowl.ply").exists()
    deepmesh = spaces[1]
    assert deepmesh["grid"].grad is not None and deepmesh["verts"].shape[0] > 0
    assert all(p.grad is not None for p in deepmesh["net"].parameters())
    encoding = spaces[2]
    assert encoding["enc"].table.grad is not None and encoding["feat"].shape == (4096, 32)
    assert encoding["enc2"].output_dim == 16
    render = spaces[3]
    assert render["img"].shape == (4, 64, 64, 3) and render["verts"].grad.abs().sum() > 0
    assert (render["rast"][..., 3] > 0).any()
    recon = spaces[4]
    assert recon["result"].faces.shape[0] > 0 and len(recon["result"].history) == 20
    mm = spaces[5]
    assert mm["pred"][0]["u"]["mean"].shape == mm["test"][0]["fields"]["u"].shape
    assert mm["pred"][0]["max_von_mises"]["var"] >= 0
    riem = spaces[6]
    assert abs(float(riem["f"]["gaussian_curvature"].mean()) - 4.0) < 1e-2
    wing = spaces[7]
    assert wing["r"]["cp"].shape == (16, 48) and wing["feats"]["normals"].shape == (16, 48, 3)
    assert abs(wing["r"]["cl_cp"] - wing["r"]["cl_vlm"]) < 0.02 * abs(wing["r"]["cl_vlm"]) + 0.005
    # the reconstruction example's mesh is in the input's frame (to_world applied)
    rv, v0 = recon["result"].verts, recon["verts"]
    extent = float((v0.max(0).values - v0.min(0).values).max())
    assert float((rv.min(0).values - v0.min(0).values).abs().max()) < 0.1 * extent


def _resolve(dotted):
    import importlib

    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, name in enumerate(parts[1:], 1):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[:i + 1]))
    return obj


def test_every_name_the_readme_uses_exists():
    """Each `gshell.x.y` the README names resolves, and so does each name it lists after a module
    ("`gshell.mmgp` (`MMGP`, `morph`, ...)"), and `from gshell.mmgp import MMGP` works."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    names = sorted(set(re.findall(r"`(gshell(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`", text)))
    assert "gshell.mmgp" in names
    for dotted in names:
        _resolve(dotted)
    listed = re.findall(r"`(gshell(?:\.[A-Za-z_]+)+)` \(((?:`[A-Za-z_]+`(?:, )?)+)\)", text)
    assert listed
    for module, inner in listed:
        mod = _resolve(module)
        for name in re.findall(r"`([A-Za-z_]+)`", inner):
            assert hasattr(mod, name), "%s.%s" % (module, name)
    from gshell.mmgp import MMGP, dataset, evaluate, morph, transfer  # noqa: F401
