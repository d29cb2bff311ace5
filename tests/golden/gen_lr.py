"""gen_lr.py - writes lr_schedules.txt: the learning rate of every epoch under
PyTorch's lr_scheduler, stepped once per epoch after the epoch's training.

    /usr/bin/python3 tests/golden/gen_lr.py

Each line: NAME|SPEC|OPTIM|lr of epoch 0, 1, ... (repr of the Python float,
exact). SPEC is nnrun's --lr-schedule, OPTIM its --optim.
"""
import os

import torch

CASES = [
    # name, nnrun spec, base lr, epochs, scheduler factory
    ("step3", "step step_size=3 gamma=0.5", 0.5, 20,
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    ("step7", "step step_size=7", 0.1, 30,
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7)),
    ("exp", "exponential gamma=0.9", 0.5, 40,
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    ("exp_up", "exponential gamma=1.05", 0.01, 25,
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=1.05)),
    ("cos10", "cosine T_max=10 eta_min=0.01", 0.5, 45,
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01)),
    ("cos7", "cosine T_max=7", 0.1, 30,
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7)),
    ("cos1", "cosine T_max=1 eta_min=0.05", 0.2, 6,
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=1, eta_min=0.05)),
]

lines = ["# lr per epoch under torch.optim.lr_scheduler, PyTorch %s" % torch.__version__,
         "# NAME|--lr-schedule|--optim|lr of epoch 0 1 2 ..."]
for name, spec, lr, epochs, make in CASES:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(opt)
    seq = []
    for epoch in range(epochs):
        seq.append(opt.param_groups[0]["lr"])  # the lr this epoch trains with
        opt.step()
        sched.step()
    lines.append("%s|%s|sgd lr=%r|%s" % (name, spec, lr, " ".join(repr(v) for v in seq)))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lr_schedules.txt")
with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
