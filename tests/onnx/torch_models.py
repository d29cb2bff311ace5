"""torch_models.py OUTDIR POINTS.csv IMAGES.idx - models for tests/onnx_import.sh.

Exports with torch.onnx.export, as a PyTorch user would, the seed network
(nn.Sequential: Linear(2, 5), Sigmoid, Linear(5, 1), Sigmoid), the small CNN
of bench/run (Conv2d(1, 8, 3), ReLU, MaxPool2d(2), Flatten, Linear(1352, 10))
and a model with a node nn does not take (ELU), with a dynamic batch, and
writes PyTorch's outputs on the test's inputs (the rows of POINTS.csv without
their last column; the IDX images / 255) as OUTDIR/NAME.out.csv, one row per
sample.
"""
import struct
import sys

import torch
from torch import nn


def points(path):
    rows = [line.split(",") for line in open(path) if line.strip()]
    return torch.tensor([[float(v) for v in r[:-1]] for r in rows], dtype=torch.float32)


def images(path):
    data = open(path, "rb").read()
    magic, n, h, w = struct.unpack(">IIII", data[:16])
    assert magic == 0x803
    pixels = torch.tensor(list(data[16:16 + n * h * w]), dtype=torch.float32)
    return (pixels / 255).reshape(n, 1, h, w)


def export(model, x, path):
    model.eval()
    torch.onnx.export(model, x[:2], path, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      opset_version=14)


def outputs(model, x, path):
    with torch.no_grad():
        y = model(x).reshape(len(x), -1)
    with open(path, "w") as f:
        for row in y.tolist():
            f.write(",".join("%.9g" % v for v in row) + "\n")


def main():
    out, pts, idx = sys.argv[1:4]
    torch.manual_seed(0)
    seed = nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 1), nn.Sigmoid())
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(8 * 13 * 13, 10))
    elu = nn.Sequential(nn.Linear(2, 5), nn.ELU(), nn.Linear(5, 1))
    x, im = points(pts), images(idx)
    for name, model, data in (("seed", seed, x), ("cnn", cnn, im), ("elu", elu, x)):
        export(model, data, "%s/%s.onnx" % (out, name))
        outputs(model, data, "%s/%s.out.csv" % (out, name))


if __name__ == "__main__":
    main()
