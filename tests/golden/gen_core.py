"""gen_core.py - PyTorch's values for the core's ops and the bce loss, the
model for the other generators: run it with /usr/bin/python3 from this
folder and commit core.txt."""
import torch

from golden import Golden

torch.manual_seed(0)
g = Golden("core.txt", "sigmoid, tanh and BCELoss with gradients; PyTorch %s" % torch.__version__)
x = torch.randn(4, 3, requires_grad=True)
w = torch.randn(4, 3)
g.add("x", x)
g.add("w", w)
for name, f in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
    y = f(x)
    (dx,) = torch.autograd.grad((y * w).sum(), x)
    g.add(name + ".y", y)
    g.add(name + ".dx", dx)
p = torch.rand(6, 1).clamp(0.05, 0.95).requires_grad_()
t = (torch.rand(6, 1) > 0.5).float()
loss = torch.nn.BCELoss()(p, t)
(dp,) = torch.autograd.grad(loss, p)
g.add("bce.p", p)
g.add("bce.t", t)
g.add("bce.loss", loss)
g.add("bce.dp", dp)
g.write()
