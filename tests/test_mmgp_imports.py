"""The MMGP interface works as the README documents it: every name it imports or names under
``gshell.mmgp`` exists, ``from gshell.mmgp import MMGP`` (and the submodules) works, and every
``gshell mmgp ...`` command line it shows parses."""
import os
import re
import shlex

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


def _mmgp_section(text):
    start = text.index("### MMGP")
    return text[start:text.index("\n### ", start + 1)]


def test_from_gshell_mmgp_import_the_documented_names():
    import gshell.mmgp as mm
    from gshell.mmgp import (MMGP, POD, GaussianProcess, PlaidSplit, dataset, evaluate, gp,  # noqa: F401
                             load_plaid, model, morph, plaid, pod, save_plaid, transfer)

    assert MMGP is model.MMGP and load_plaid is plaid.load_plaid and POD is pod.POD
    assert save_plaid is plaid.save_plaid and PlaidSplit is plaid.PlaidSplit
    assert morph.floater_map and transfer.transfer_matrix and evaluate.evaluate
    assert dataset.generate and gp.GaussianProcess is GaussianProcess
    for name in mm.__all__:
        assert getattr(mm, name) is not None, name
    assert set(mm.__all__) <= set(dir(mm))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mm.nope


def test_every_mmgp_name_in_the_readme_exists():
    """``from gshell.mmgp[.x] import a, b`` anywhere in the README (code blocks and inline code),
    and every backticked ``gshell.mmgp.x[.y]``."""
    import importlib

    text = _readme()
    imports = re.findall(r"from (gshell\.mmgp(?:\.\w+)?) import ([\w, ()]+)", text)
    assert ("gshell.mmgp", "MMGP") in [(m, n.strip()) for m, ns in imports for n in ns.split(",")]
    for module, names in imports:
        mod = importlib.import_module(module)
        for name in re.findall(r"\w+", names):
            assert hasattr(mod, name), "%s.%s" % (module, name)
    dotted = set(re.findall(r"`(gshell\.mmgp(?:\.\w+)+)", text))
    assert "gshell.mmgp.load_plaid" in dotted
    for name in sorted(dotted):
        parts = name.split(".")
        obj = importlib.import_module("gshell.mmgp")
        for p in parts[2:]:
            obj = getattr(obj, p)          # the package's lazy attributes load submodules
    # names listed after the module in the README's table: `gshell.mmgp` (`MMGP`, `morph`, ...)
    listed = re.findall(r"`gshell\.mmgp` \(((?:`\w+`(?:, )?)+)\)", text)
    assert listed
    mm = importlib.import_module("gshell.mmgp")
    for inner in listed:
        for name in re.findall(r"`(\w+)`", inner):
            assert hasattr(mm, name), name


def test_readme_mmgp_command_lines_parse():
    """Each ``gshell mmgp ...`` line of the README's MMGP section is a valid command line (parsed
    by the CLI's own parser, not run)."""
    from gshell.cli import build_parser

    section = _mmgp_section(_readme())
    lines = [ln.strip() for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S)
             for ln in block.splitlines() if ln.strip().startswith("gshell mmgp ")]
    assert len(lines) >= 4, lines
    parser = build_parser()
    for ln in lines:
        args = parser.parse_args(shlex.split(ln)[1:])
        assert args.command == "mmgp" and args.mmgp_command in ("generate", "fit", "predict"), ln
        if args.mmgp_command in ("fit", "predict"):
            assert args.split is not None, ln
