"""gen_activations.py - PyTorch's values for the activation, shape and
dropout modules: forward and input gradient of sum(m(x) * w) for each, on x
of shape (4, 6) and, for softmax, log_softmax and flatten, on a 4-d x of
shape (2, 3, 4, 5). Dropout: the eval-mode identity, the scale PyTorch gives
the kept elements, and p = 0 and p = 1 in train mode. Run it with
/usr/bin/python3 from this folder and commit activations.txt."""
import torch
import torch.nn as nn

from golden import Golden

torch.manual_seed(0)
g = Golden("activations.txt",
           "activation, shape and dropout modules with gradients; PyTorch %s" % torch.__version__)


def case(key, m, x, w):
    x = x.detach().clone().requires_grad_()
    y = m(x)
    (dx,) = torch.autograd.grad((y * w).sum(), x)
    g.add(key + ".y", y)
    g.add(key + ".dx", dx)


x = torch.randn(4, 6) * 2
w = torch.randn(4, 6)
g.add("x", x)
g.add("w", w)
for key, m in (
    ("relu", nn.ReLU()),
    ("tanh", nn.Tanh()),
    ("leaky_relu", nn.LeakyReLU()),
    ("leaky_relu.0.2", nn.LeakyReLU(0.2)),
    ("gelu", nn.GELU()),
    ("gelu.tanh", nn.GELU(approximate="tanh")),
    ("softmax", nn.Softmax(dim=-1)),
    ("softmax.0", nn.Softmax(dim=0)),
    ("log_softmax", nn.LogSoftmax(dim=-1)),
    ("log_softmax.0", nn.LogSoftmax(dim=0)),
    ("flatten", nn.Flatten()),
    ("identity", nn.Identity()),
):
    case(key, m, x, w)

x4 = torch.randn(2, 3, 4, 5) * 3
g.add("x4", x4)
for dim in (0, 1, 2, -1):
    w4 = torch.randn(2, 3, 4, 5)
    g.add("w4.%d" % dim, w4)
    case("softmax4.%d" % dim, nn.Softmax(dim=dim), x4, w4)
    case("log_softmax4.%d" % dim, nn.LogSoftmax(dim=dim), x4, w4)
for start, end in ((1, -1), (2, -1), (1, 2), (-2, -1), (2, 2), (0, 0)):
    m = nn.Flatten(start, end)
    wf = torch.randn(m(x4).shape)
    key = "flatten4.%d.%d" % (start, end)
    g.add(key + ".w", wf)
    case(key, m, x4, wf)

# Dropout: eval mode is the identity; train mode with p = 0 returns the
# input and with p = 1 zeros (x * 0); the kept elements are x * s with
# s = 1 / (1 - p) as PyTorch computes it in float32.
case("dropout.eval", nn.Dropout(0.5).eval(), x, w)
case("dropout.p0", nn.Dropout(0.0).train(), x, w)
case("dropout.p1", nn.Dropout(1.0).train(), x, w)
for p in (0.1, 0.25, 0.5, 0.9, 0.123):
    y = nn.functional.dropout(torch.ones(1000), p, training=True)
    g.add("dropout.scale.%g" % p, y.max())
g.write()
