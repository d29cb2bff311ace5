"""gen_optim.py - PyTorch's values for the standard optimizers (adam, adamw,
rmsprop, adagrad): run it with /usr/bin/python3 from this folder and commit
optim.txt.

A tiny linear model, W (3, 4) and b (3), on fixed data X (8, 4) and Y (8, 3)
with loss mean((X @ W^T + b - Y)^2), trained 10 steps by each run of RUNS.
For every step k (1..10) the file holds the loss and the gradients before
the step, and the parameters and every state slot after it (k = 0: the
state at the optimizer's creation, Adagrad's):

    RUN.K.loss  RUN.K.dW  RUN.K.db  RUN.K.W  RUN.K.b  RUN.K.W.SLOT  RUN.K.b.SLOT

A run's SKIP steps use b.detach() in the forward, so that b has no gradient
there and is skipped (its step count falls behind W's). A run's ADJUST
hyper-parameters are set before step 6, as the tutorial's adjust_optim.
tests/test_golden_optim.c holds the same table of runs."""
import torch

from golden import Golden

STEPS = 10

# name, optimizer, keyword arguments, steps without a gradient for b, changes before step 6
RUNS = [
    ("adam", torch.optim.Adam, dict(lr=0.01), (), {}),
    ("adam_default", torch.optim.Adam, dict(), (), {}),
    ("adam_amsgrad", torch.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1), (), {}),
    ("adam_skip", torch.optim.Adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6), (3, 4), {}),
    ("adam_adjust", torch.optim.Adam, dict(lr=0.01), (), dict(lr=0.005, betas=(0.3, 0.999))),
    ("adam_maximize", torch.optim.Adam, dict(lr=0.01, maximize=True), (), {}),
    ("adamw", torch.optim.AdamW, dict(lr=0.01), (), {}),
    ("adamw_amsgrad", torch.optim.AdamW, dict(lr=0.01, weight_decay=0.5, amsgrad=True), (2,), {}),
    ("rmsprop", torch.optim.RMSprop, dict(), (), {}),
    ("rmsprop_momentum", torch.optim.RMSprop, dict(lr=0.005, momentum=0.9, weight_decay=0.1), (), {}),
    ("rmsprop_centered", torch.optim.RMSprop, dict(lr=0.005, alpha=0.9, centered=True, momentum=0.5),
     (5,), {}),
    ("adagrad", torch.optim.Adagrad, dict(), (), {}),
    ("adagrad_decay", torch.optim.Adagrad,
     dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5), (4,), {}),
    ("adamw_maximize", torch.optim.AdamW, dict(lr=0.01, maximize=True), (), {}),
    ("rmsprop_maximize", torch.optim.RMSprop, dict(maximize=True, weight_decay=0.1), (), {}),
    ("adagrad_maximize", torch.optim.Adagrad, dict(lr=0.05, maximize=True), (), {}),
]

torch.manual_seed(0)
g = Golden("optim.txt", "Adam, AdamW, RMSprop and Adagrad, 10 steps on a linear model; PyTorch %s"
           % torch.__version__)
W0 = torch.randn(3, 4) * 0.5
b0 = torch.randn(3) * 0.5
X = torch.randn(8, 4)
Y = torch.randn(8, 3)
for name, value in (("W0", W0), ("b0", b0), ("X", X), ("Y", Y)):
    g.add(name, value)

for run, cls, kw, skip, adjust in RUNS:
    W = W0.clone().requires_grad_()
    b = b0.clone().requires_grad_()
    opt = cls([W, b], **kw)
    for pname, p in (("W", W), ("b", b)):  # Adagrad's state exists from the start
        for slot, value in opt.state[p].items():
            g.add("%s.0.%s.%s" % (run, pname, slot), value)
    for k in range(1, STEPS + 1):
        if k == 6:
            for key, value in adjust.items():
                opt.param_groups[0][key] = value
        W.grad = None
        b.grad = None
        d = torch.addmm(b.detach() if k in skip else b, X, W.t()) - Y
        loss = (d * d).mean()
        loss.backward()
        assert (b.grad is None) == (k in skip)
        g.add("%s.%d.loss" % (run, k), loss)
        g.add("%s.%d.dW" % (run, k), W.grad)
        if b.grad is not None:
            g.add("%s.%d.db" % (run, k), b.grad)
        opt.step()
        for pname, p in (("W", W), ("b", b)):
            g.add("%s.%d.%s" % (run, k, pname), p)
            for slot, value in opt.state[p].items():
                g.add("%s.%d.%s.%s" % (run, k, pname, slot), value)
g.write()
