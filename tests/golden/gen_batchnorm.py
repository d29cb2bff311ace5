"""gen_batchnorm.py - PyTorch's values for batchnorm1d: train-mode forward
and gradients (input, weight, bias), the running statistics after three
train steps, eval-mode forward and gradient after them; affine=False,
track_running_stats=False, another momentum, and (N, C, L) input. Run it
with /usr/bin/python3 from this folder and commit batchnorm.txt."""
import torch

from golden import Golden

torch.manual_seed(0)
g = Golden("batchnorm.txt", "BatchNorm1d forward, gradients and running statistics; PyTorch %s"
           % torch.__version__)


def case(prefix, bn, xs, x_eval):
    """Three train steps on xs (gradients of sum(y * w) at the first), then
    eval mode on x_eval."""
    if bn.affine:
        with torch.no_grad():
            bn.weight.copy_(torch.rand(bn.num_features) + 0.5)
            bn.bias.copy_(torch.randn(bn.num_features))
        g.add(prefix + ".weight", bn.weight)
        g.add(prefix + ".bias", bn.bias)
    bn.train()
    for i, x in enumerate(xs):
        x = x.clone().requires_grad_()
        g.add("%s.x%d" % (prefix, i), x)
        y = bn(x)
        g.add("%s.y%d" % (prefix, i), y)
        if i == 0:
            w = torch.randn(y.shape)
            g.add(prefix + ".w", w)
            params = [x] + ([bn.weight, bn.bias] if bn.affine else [])
            grads = torch.autograd.grad((y * w).sum(), params)
            g.add(prefix + ".dx", grads[0])
            if bn.affine:
                g.add(prefix + ".dweight", grads[1])
                g.add(prefix + ".dbias", grads[2])
    if bn.track_running_stats:
        g.add(prefix + ".running_mean", bn.running_mean)
        g.add(prefix + ".running_var", bn.running_var)
        g.add(prefix + ".num_batches_tracked", bn.num_batches_tracked.float())
    bn.eval()
    x = x_eval.clone().requires_grad_()
    g.add(prefix + ".x_eval", x)
    y = bn(x)
    g.add(prefix + ".y_eval", y)
    w = torch.randn(y.shape)
    g.add(prefix + ".w_eval", w)
    params = [x] + ([bn.weight, bn.bias] if bn.affine else [])
    grads = torch.autograd.grad((y * w).sum(), params)
    g.add(prefix + ".dx_eval", grads[0])
    if bn.affine:
        g.add(prefix + ".dweight_eval", grads[1])
        g.add(prefix + ".dbias_eval", grads[2])


def batches(n, shape):
    return [torch.randn(n, *shape) * (1 + i) + 0.5 * i for i in range(3)]


# (N, C): the defaults
case("bn", torch.nn.BatchNorm1d(5), batches(8, (5,)), torch.randn(6, 5) * 2)
# no weight and bias
case("noaffine", torch.nn.BatchNorm1d(4, affine=False), batches(7, (4,)), torch.randn(5, 4))
# no running statistics: eval mode uses the batch's
case("notrack", torch.nn.BatchNorm1d(4, track_running_stats=False), batches(6, (4,)),
     torch.randn(5, 4))
# another momentum and eps
case("mom", torch.nn.BatchNorm1d(3, momentum=0.3, eps=1e-3), batches(10, (3,)),
     torch.randn(4, 3))
# (N, C, L)
case("ncl", torch.nn.BatchNorm1d(3), batches(4, (3, 5)), torch.randn(2, 3, 5))

# A network trained by SGD: three steps of BCELoss (train mode: batch
# statistics, running ones updated), then the loss in eval mode.
net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.Sigmoid(),
                          torch.nn.Linear(8, 1), torch.nn.Sigmoid())
with torch.no_grad():
    net[1].weight.copy_(torch.rand(8) + 0.5)
    net[1].bias.copy_(torch.randn(8) * 0.5)
for k, v in net.state_dict().items():
    g.add("net.init." + k, v.float())
opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.8)
bce = torch.nn.BCELoss()
net.train()
for i in range(3):
    x = torch.randn(10, 2)
    t = (x.pow(2).sum(1, keepdim=True) < 1).float()
    g.add("net.x%d" % i, x)
    g.add("net.t%d" % i, t)
    opt.zero_grad()
    loss = bce(net(x), t)
    g.add("net.loss%d" % i, loss)
    loss.backward()
    opt.step()
for k, v in net.state_dict().items():
    g.add("net.after." + k, v.float())
net.eval()
x = torch.randn(12, 2)
t = (x.pow(2).sum(1, keepdim=True) < 1).float()
g.add("net.x_eval", x)
g.add("net.t_eval", t)
with torch.no_grad():
    g.add("net.loss_eval", bce(net(x), t))
g.write()
