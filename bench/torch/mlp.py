# mlp.py THREADS POINT... - time per training step of ReLU MLPs in PyTorch.
# THREADS: thread counts to try, comma-separated (1,2). POINT:
# BATCH:WIDTHS:STEPS, as 256:784,1024,1024,10:50 for a 784-1024-1024-10
# net (ReLU between the Linear layers) at batch 256 for 50 timed steps.
# Each step: zero_grad, forward, cross-entropy, backward, SGD(lr=0.01,
# momentum=0.9), on one fixed batch of standard normal inputs and random
# labels; 3 untimed steps first. Prints one line per point and thread count:
#   point BATCH WIDTHS threads T steps S s_per_step X samples_s Y
# When the untimed steps of a later thread count already take more than
# twice the best time per step so far (threads that collapse on a busy
# machine), that count is not timed: steps is 0 and X the untimed steps'.
import sys
import time
import torch
import torch.nn as nn

threads = [int(t) for t in sys.argv[1].split(",")]
for point in sys.argv[2:]:
    b, widths, steps = point.split(":")
    b, steps = int(b), int(steps)
    w = [int(x) for x in widths.split(",")]
    best = None
    for t in threads:
        torch.set_num_threads(t)
        torch.manual_seed(0)
        layers = []
        for i in range(len(w) - 1):
            layers.append(nn.Linear(w[i], w[i + 1]))
            if i < len(w) - 2:
                layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        lossf = nn.CrossEntropyLoss()
        X = torch.randn(b, w[0])
        Y = torch.randint(0, w[-1], (b,))

        def step():
            opt.zero_grad()
            lossf(model(X), Y).backward()
            opt.step()

        t0 = time.perf_counter()
        for _ in range(3):
            step()
        dt = (time.perf_counter() - t0) / 3
        timed = 0
        if best is None or dt <= 2 * best:
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            dt = (time.perf_counter() - t0) / steps
            timed = steps
            best = dt if best is None else min(best, dt)
        print(f"point {b} {widths} threads {t} steps {timed} s_per_step {dt:.9f} "
              f"samples_s {b / dt:.1f}", flush=True)
