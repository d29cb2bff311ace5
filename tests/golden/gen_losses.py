"""gen_losses.py - PyTorch's values for the standard losses (MSELoss, L1Loss,
SmoothL1Loss, CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss): the loss and
the gradient of the input for each case, both reductions. Run it with
/usr/bin/python3 from this folder and commit losses.txt.

Each case NAME (computed in float64, then stored as float32) writes NAME.loss and NAME.dx for the input named in the case;
tests/test_golden_losses.c holds the same table with the loss's words."""
import torch
import torch.nn as nn

from golden import Golden

torch.manual_seed(0)
g = Golden("losses.txt", "standard losses with input gradients; PyTorch %s" % torch.__version__)


def case(name, loss, x, t):
    # PyTorch in float64 on the float32 inputs: the reference is then exact
    # to float32, where float32 PyTorch itself loses digits (its
    # BCEWithLogits gradient sigmoid(x) - t cancels for large x).
    x = x.double().clone().requires_grad_()
    t = t.double() if t.is_floating_point() else t
    L = loss.double()(x, t)
    (dx,) = torch.autograd.grad(L, x)
    g.add(name + ".loss", L)
    g.add(name + ".dx", dx)


# ---- regression: (5, 3) predictions and targets
rx = torch.randn(5, 3)
rt = torch.randn(5, 3)
# differences across both sides of beta = 1 and beta = 0.5, none at a kink
g.add("reg.x", rx)
g.add("reg.t", rt)
for red in ("mean", "sum"):
    case("mse." + red, nn.MSELoss(reduction=red), rx, rt)
    case("l1." + red, nn.L1Loss(reduction=red), rx, rt)
    case("smooth_l1." + red, nn.SmoothL1Loss(reduction=red), rx, rt)
    case("smooth_l1.beta0.5." + red, nn.SmoothL1Loss(reduction=red, beta=0.5), rx, rt)
    case("smooth_l1.beta0." + red, nn.SmoothL1Loss(reduction=red, beta=0.0), rx, rt)

# ---- classes: (6, 4) logits, targets 0 .. 3 (class 2 twice, the ignored one)
cx = torch.randn(6, 4) * 2
ct = torch.tensor([0, 2, 1, 3, 2, 1])
cw = torch.tensor([1.0, 2.0, 0.5, 1.5])
g.add("cls.x", cx)
g.add("cls.t", ct)
g.add("cls.w", cw)
ctn = ct.clone()
ctn[4] = -100  # the default ignore_index
g.add("cls.t_ignored", ctn)
logp = torch.log_softmax(torch.randn(6, 4) * 2, dim=1)
g.add("cls.logp", logp)
for red in ("mean", "sum"):
    CE = nn.CrossEntropyLoss
    case("ce." + red, CE(reduction=red), cx, ct)
    case("ce.smooth." + red, CE(reduction=red, label_smoothing=0.1), cx, ct)
    case("ce.weight." + red, CE(reduction=red, weight=cw), cx, ct)
    case("ce.ignore." + red, CE(reduction=red, ignore_index=2), cx, ct)
    case("ce.ignore_default." + red, CE(reduction=red), cx, ctn)
    case("ce.all." + red, CE(reduction=red, weight=cw, ignore_index=2, label_smoothing=0.1),
         cx, ct)
    case("nll." + red, nn.NLLLoss(reduction=red), logp, ct)
    case("nll.weight." + red, nn.NLLLoss(reduction=red, weight=cw), logp, ct)
    case("nll.ignore." + red, nn.NLLLoss(reduction=red, ignore_index=2), logp, ct)
    case("nll.all." + red, nn.NLLLoss(reduction=red, weight=cw, ignore_index=2), logp, ct)

# ---- logits: (4, 3), some of them far beyond exp's float range
bx = torch.tensor([[-120.0, 0.3, 95.0], [40.0, -2.5, -0.7], [1.2, -88.0, 150.0],
                   [-30.0, 7.0, 0.05]])
bt = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.5]])
g.add("bcel.x", bx)
g.add("bcel.t", bt)
bx2 = torch.randn(4, 3)
g.add("bcel.x2", bx2)
for red in ("mean", "sum"):
    BL = nn.BCEWithLogitsLoss
    case("bcel." + red, BL(reduction=red), bx, bt)
    case("bcel.small." + red, BL(reduction=red), bx2, bt)
    case("bcel.pw." + red, BL(reduction=red, pos_weight=torch.tensor(2.5)), bx2, bt)
    case("bcel.pw3." + red, BL(reduction=red, pos_weight=torch.tensor([0.5, 2.0, 3.0])), bx2, bt)
    case("bcel.pw3large." + red, BL(reduction=red, pos_weight=torch.tensor([0.5, 2.0, 3.0])),
         bx, bt)
g.write()
