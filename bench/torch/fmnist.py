# fmnist.py DIR ARCH THREADS EPOCHS [SEED] - train on Fashion-MNIST's 60000
# training images in PyTorch, then test on its 10000 test images, loading
# included (the files of DIR, *-idx?-ubyte.gz). ARCH mlp: Flatten
# Linear(784,256) ReLU Linear(256,10), SGD(0.1, momentum 0.9); cnn:
# Conv2d(1,8,3) ReLU MaxPool2d(2) Flatten Linear(1352,10), SGD(0.05, 0.9).
# Cross-entropy, batch 64, reshuffled each epoch, the last partial batch
# kept. SEED (default 0) seeds initialisation and shuffling. Prints: test_acc A loop_s S (S: the training loop alone).
import gzip
import os
import sys
import time
import numpy as np
import torch
import torch.nn as nn

folder, arch, threads, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
torch.set_num_threads(threads)


def idx(name):
    with gzip.open(os.path.join(folder, name)) as f:
        raw = f.read()
    if raw[3] == 3:  # images: magic, count, rows, cols, then bytes
        return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).astype(np.float32)
                                .reshape(-1, 1, 28, 28) / 255)
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=8).astype(np.int64))


X, Y = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
Xt, Yt = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
torch.manual_seed(seed)
if arch == "mlp":
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    lr = 0.1
elif arch == "cnn":
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8 * 13 * 13, 10))
    lr = 0.05
else:
    sys.exit(f"fmnist.py: unknown ARCH '{arch}' (mlp or cnn)")
opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
lossf = nn.CrossEntropyLoss()
t0 = time.perf_counter()
for epoch in range(epochs):
    perm = torch.randperm(len(X))
    for i in range(0, len(X), 64):
        j = perm[i:i + 64]
        opt.zero_grad()
        lossf(model(X[j]), Y[j]).backward()
        opt.step()
loop = time.perf_counter() - t0
with torch.no_grad():
    acc = (model(Xt).argmax(1) == Yt).float().mean().item()
print(f"test_acc {acc:.4f} loop_s {loop:.3f}")
