"""Feature-group ablation of the wing Cp model: one run per variant, seed 0, held-out wings.

A group is removed by zeroing its channels: standardisation turns a constant channel into a
constant 0 input, so the network is the same (width, stencil, 21 inputs) without that
information. Variants: without (7 inputs), all, normals_only, no_normals.

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/wing_ablation.py VARIANT EPOCHS DATA.npz
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gshell.wing import train as T  # noqa: E402


def main(argv=None):
    variant, epochs, path = (argv or sys.argv[1:])[:3]
    epochs = int(epochs)
    with np.load(path) as f:
        d = {k: f[k] for k in f.files}
    prep = T._Prepared(d)
    if variant == "normals_only":
        prep.features[..., :11] = 0
    elif variant == "no_normals":
        prep.features[..., 11:] = 0
    elif variant not in ("without", "all"):
        raise SystemExit("unknown variant %r" % variant)
    wing = {"wing": prep.wing.numpy()}
    tr, te = T.split_by_wing(wing, 0.2, 0)
    tr2, va = T.split_by_wing(wing, 0.15, 0, tr)
    m, h = T.train_cp_model(prep, variant != "without", seed=0, epochs=epochs, train_idx=tr2,
                            val_idx=va)
    ev = T.evaluate(m, prep, te)
    print(json.dumps({"variant": variant, "epochs": epochs, "test_mse": ev["mse"],
                      "val": h["val_mse"], "time": h["time_s"]}))
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
