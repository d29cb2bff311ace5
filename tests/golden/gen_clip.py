"""gen_clip.py - writes clip.txt: torch.nn.utils.clip_grad_norm_ on fixed
gradients of three tensors, for max_norm below and above their total norm."""
import torch

from golden import Golden

torch.manual_seed(7)
grads = [torch.randn(3, 4), torch.randn(5) * 3, torch.randn(2, 2) * 0.1]
g = Golden("clip.txt", "clip_grad_norm_ of three gradients, PyTorch %s" % torch.__version__)
for i, gr in enumerate(grads):
    g.add("g%d" % i, gr)
for case, max_norm in (("small", 1.5), ("large", 100.0)):
    params = [torch.zeros_like(gr, requires_grad=True) for gr in grads]
    for p, gr in zip(params, grads):
        p.grad = gr.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    g.add("%s_max_norm" % case, max_norm)
    g.add("%s_total" % case, total)
    for i, p in enumerate(params):
        g.add("%s_g%d" % (case, i), p.grad)
g.write()
