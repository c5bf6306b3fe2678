"""The package's import graph: no module of gshell imports itself through others (no import circle).

Every ``import`` and ``from ... import`` statement counts, at module level or inside a function
(a lazy import still ties the two modules together), except under ``if __name__ == "__main__":``:
that block runs only when the file is executed as a script, as module ``__main__``, so it cannot
close a circle. ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module,
else of ``pkg``.
"""
import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gshell")


def _modules(root=ROOT):
    """{dotted module name: source path} of every .py file under ``root`` (a package)."""
    base = os.path.dirname(root)
    mods = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, base)[:-3].replace(os.sep, ".")
                mods[dotted[:-len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return mods


def _is_main_block(node):
    t = node.test if isinstance(node, ast.If) else None
    return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__"
            and len(t.comparators) == 1 and isinstance(t.comparators[0], ast.Constant)
            and t.comparators[0].value == "__main__")


def _walk(tree):
    """ast.walk without the bodies of ``if __name__ == "__main__":``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        todo += [c for c in ast.iter_child_nodes(node) if not _is_main_block(c)]


def _imports(module, path, mods):
    """The modules of ``mods`` that ``module`` imports anywhere in its source."""
    is_pkg = path.endswith("__init__.py")
    targets = []
    for node in _walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            targets += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = module if is_pkg else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = pkg + ("." + node.module if node.module else "")
            else:
                base = node.module
            targets += [base + "." + a.name if base + "." + a.name in mods else base for a in node.names]
    found = set()
    for t in targets:
        while t and t not in mods:  # "gshell.io.ply.read_ply" -> "gshell.io.ply"
            t = t.rpartition(".")[0]
        if t and t != module:
            found.add(t)
    return found


def _cycles(graph):
    """The strongly connected components of more than one module (Tarjan), as sorted lists."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _graph():
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def test_the_walker_sees_the_package():
    g = _graph()
    assert {"gshell", "gshell.cli", "gshell.cli.info", "gshell.io", "gshell.io.ply", "gshell.metrics"} <= set(g)
    assert "gshell.io.ply" in g["gshell.io"]           # from gshell.io.ply import read_ply
    assert "gshell.cli._helpers" in g["gshell.cli.info"]
    assert "gshell.topology" in g["gshell.demo"]      # an import inside a function counts
    assert "gshell.cli" not in g["gshell.demo"]       # ... one under `if __name__ == "__main__"` does not


def test_the_walker_finds_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import c\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    (pkg / "d.py").write_text("if __name__ == '__main__':\n    import pkg.e\n")  # a script block: no cycle
    (pkg / "e.py").write_text("import pkg.d\n")
    mods = _modules(str(pkg))
    g = {m: _imports(m, p, mods) for m, p in mods.items()}
    assert _cycles(g) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


def test_no_import_cycle_in_gshell():
    cycles = _cycles(_graph())
    if cycles:
        pytest.fail("import cycles in gshell/: " + "; ".join(" <-> ".join(c) for c in cycles))
