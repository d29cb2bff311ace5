# seed.py THREADS EPOCHS - the tutorial's run in PyTorch: a 2-5-1 sigmoid
# net, 1200 points in the unit square labelled by a circle, BCELoss,
# SGD(lr=0.5, momentum=0.8), batch 100, the data reshuffled each epoch, the
# loss and accuracy summed per batch as nn's epoch lines do.
# Prints: loop_s S steps N loss L acc A (the loop alone, no start-up).
import sys
import time
import torch
import torch.nn as nn

threads, epochs = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
X = torch.rand(1200, 2)
Y = (((X - 0.5) ** 2).sum(1) < 0.1).float().view(-1, 1)
model = nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 1), nn.Sigmoid())
lossf = nn.BCELoss()
opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.8)
batch, steps = 100, 0
t0 = time.perf_counter()
for epoch in range(epochs):
    perm = torch.randperm(len(X))
    X, Y = X[perm], Y[perm]
    sum_loss = sum_acc = 0.0
    for i in range(0, len(X) // batch * batch, batch):
        xb, yb = X[i:i + batch], Y[i:i + batch]
        y = model(xb)
        L = lossf(y, yb)
        opt.zero_grad()
        L.backward()
        opt.step()
        sum_loss += L.item()
        sum_acc += (y.round() == yb).float().mean().item()
        steps += 1
dt = time.perf_counter() - t0
nb = len(X) // batch
print(f"loop_s {dt:.6f} steps {steps} loss {sum_loss / nb:.4f} acc {sum_acc / nb:.4f}")
