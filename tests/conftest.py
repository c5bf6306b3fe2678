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


def pytest_collection_modifyitems(config, items):
    if cuda_ready():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device and a CUDA build of gshell")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
