"""golden.py - writes named tensors in the text format of tests/golden.h.

The generators gen_*.py import it:

    from golden import Golden
    g = Golden("relu.txt", "relu and its gradient, PyTorch %s" % torch.__version__)
    g.add("x", x)          # any tensor or number, stored as float32
    g.write()              # next to this file
"""
import os

import torch


class Golden:
    def __init__(self, name, comment):
        self.name = name
        self.lines = ["# " + line for line in comment.splitlines()]
        self.seen = set()

    def add(self, key, value):
        if key in self.seen:
            raise ValueError("tensor %s written twice" % key)
        self.seen.add(key)
        t = torch.as_tensor(value).detach().to(torch.float32).cpu()
        vals = " ".join("%.9g" % v for v in t.reshape(-1).tolist())
        dims = " ".join(str(d) for d in t.shape)
        self.lines.append(" ".join(x for x in (key, str(t.dim()), dims, vals) if x))

    def write(self):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), self.name)
        with open(path, "w") as f:
            f.write("\n".join(self.lines) + "\n")
