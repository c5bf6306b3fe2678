import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cuda_ready():
    if not torch.cuda.is_available():
        return False
    import gshell
    return bool(gshell.build_info()["with_cuda"])


@pytest.fixture(scope="module")
def samples():
    """The folder of sample meshes shipped inside pymeshlab (cow, bone, airplane, a range scan)."""
    pymeshlab = pytest.importorskip("pymeshlab")
    d = os.path.join(os.path.dirname(pymeshlab.__file__), "tests", "sample_meshes")
    if not os.path.isdir(d):
        pytest.skip("pymeshlab ships no sample meshes here")
    return d


def pytest_collection_modifyitems(config, items):
    if cuda_ready():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device and a CUDA build of gshell")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module: small convolutions on 2 shared cores run far faster on
    one thread than on two contended ones."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
