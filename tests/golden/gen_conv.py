"""gen_conv.py - PyTorch's values for conv2d, max_pool2d and avg_pool2d:
forward, and the gradients of sum(y * w) for the input and the parameters.
Run it with /usr/bin/python3 from this folder and commit conv.txt.

The inputs and parameters are float32 values; PyTorch computes in float64
from them, so the reference is the exact result rounded once to float32.

Per case PREFIX: PREFIX.cfg holds the configuration (see each list below),
PREFIX.x the input, PREFIX.weight and PREFIX.bias the parameters (conv2d),
PREFIX.w the weights of the outputs in the loss, PREFIX.y the output and
PREFIX.dx, PREFIX.dweight, PREFIX.dbias the gradients."""
import torch
import torch.nn.functional as F

from golden import Golden

torch.manual_seed(0)
g = Golden("conv.txt", "Conv2d, MaxPool2d and AvgPool2d with gradients; PyTorch %s"
           % torch.__version__)


def f32(*shape):
    return torch.randn(*shape).double()


def grads(y, ins):
    w = f32(*y.shape)
    return w, torch.autograd.grad((y * w).sum(), ins)


# conv2d through the module: cfg = N, C_in, H, W, out, kernel, stride, padding,
# dilation, bias
CONV = [
    (2, 1, 6, 6, 4, 3, 1, 0, 1, 1),  # Conv2d(1, 4, 3)
    (2, 3, 7, 9, 5, 3, 2, 1, 1, 1),  # C_in 3, non-square input, stride 2, padding 1
    (1, 2, 9, 8, 3, 3, 1, 2, 2, 0),  # dilation 2, padding 2, no bias
    (3, 3, 5, 7, 2, 2, 3, 1, 1, 0),  # stride 3 past the end, no bias
    (2, 4, 8, 8, 6, 5, 1, 2, 1, 1),  # 5x5, "same" padding
]
for i, cfg in enumerate(CONV):
    n, c, h, wd, o, k, s, p, d, b = cfg
    x = f32(n, c, h, wd).requires_grad_()
    weight = (f32(o, c, k, k) * 0.3).float().double().requires_grad_()
    bias = (f32(o) * 0.3).float().double().requires_grad_() if b else None
    y = F.conv2d(x, weight, bias, stride=s, padding=p, dilation=d)
    ins = [x, weight] + ([bias] if b else [])
    w, gs = grads(y, ins)
    pre = "conv%d." % i
    g.add(pre + "cfg", torch.tensor(cfg))
    g.add(pre + "x", x)
    g.add(pre + "weight", weight)
    if b:
        g.add(pre + "bias", bias)
        g.add(pre + "dbias", gs[2])
    g.add(pre + "w", w)
    g.add(pre + "y", y)
    g.add(pre + "dx", gs[0])
    g.add(pre + "dweight", gs[1])

# The op alone with a different setting per axis: cfg = the op's attributes
# stride_h, stride_w, padding_h, padding_w, dilation_h, dilation_w
x = f32(2, 3, 8, 7).requires_grad_()
weight = (f32(4, 3, 3, 2) * 0.3).float().double().requires_grad_()
bias = (f32(4) * 0.3).float().double().requires_grad_()
attr = (2, 1, 1, 0, 1, 2)
y = F.conv2d(x, weight, bias, stride=attr[0:2], padding=attr[2:4], dilation=attr[4:6])
w, gs = grads(y, [x, weight, bias])
for k, v in (("cfg", torch.tensor(attr)), ("x", x), ("weight", weight), ("bias", bias),
             ("w", w), ("y", y), ("dx", gs[0]), ("dweight", gs[1]), ("dbias", gs[2])):
    g.add("convop." + k, v)

# pooling through the modules: cfg = N, C, H, W, kernel, stride, padding,
# count_include_pad (avg only)
POOL = [
    ("max", (2, 3, 6, 6, 2, 2, 0, 1)),
    ("max", (2, 2, 7, 9, 3, 2, 1, 1)),  # padding, stride != kernel, non-square
    ("max", (1, 2, 5, 8, 3, 1, 1, 1)),  # overlapping windows: gradients add up
    ("max", (2, 1, 7, 7, 2, 3, 1, 1)),  # stride > kernel
    ("avg", (2, 3, 6, 6, 2, 2, 0, 1)),
    ("avg", (2, 2, 7, 9, 3, 2, 1, 1)),  # padding counted in the mean
    ("avg", (2, 2, 7, 9, 3, 2, 1, 0)),  # padding not counted
    ("avg", (1, 2, 5, 8, 3, 1, 1, 1)),
    ("avg", (2, 1, 7, 7, 2, 3, 1, 0)),
]
for i, (kind, cfg) in enumerate(POOL):
    n, c, h, wd, k, s, p, cip = cfg
    x = f32(n, c, h, wd).requires_grad_()
    if kind == "max":
        y = F.max_pool2d(x, k, s, p)
    else:
        y = F.avg_pool2d(x, k, s, p, count_include_pad=bool(cip))
    w, (dx,) = grads(y, [x])
    pre = "%s%d." % (kind, i)
    g.add(pre + "cfg", torch.tensor(cfg))
    g.add(pre + "x", x)
    g.add(pre + "w", w)
    g.add(pre + "y", y)
    g.add(pre + "dx", dx)
# A small net: Conv2d(2, 3, 3, padding=1), ReLU, MaxPool2d(2), Flatten,
# Linear(27, 2), on (2, 2, 6, 6); its parameters as net.0.weight ...
x = f32(2, 2, 6, 6).requires_grad_()
cw = (f32(3, 2, 3, 3) * 0.3).float().double().requires_grad_()
cb = (f32(3) * 0.3).float().double().requires_grad_()
lw = (f32(2, 27) * 0.3).float().double().requires_grad_()
lb = (f32(2) * 0.3).float().double().requires_grad_()
h = F.max_pool2d(F.relu(F.conv2d(x, cw, cb, padding=1)), 2)
y = F.linear(h.flatten(1), lw, lb)
w, gs = grads(y, [x, cw, cb, lw, lb])
for k, v in (("x", x), ("0.weight", cw), ("0.bias", cb), ("4.weight", lw), ("4.bias", lb),
             ("w", w), ("y", y), ("dx", gs[0]), ("d0.weight", gs[1]), ("d0.bias", gs[2]),
             ("d4.weight", gs[3]), ("d4.bias", gs[4])):
    g.add("net." + k, v)
g.write()

# The reprs the tests compare with (tests/conv.sh).
print(torch.nn.Conv2d(1, 8, 3))
print(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, dilation=2, bias=False))
print(torch.nn.MaxPool2d(2))
print(torch.nn.AvgPool2d(3, stride=1, padding=1))
