#!/usr/bin/python3
"""Golden outputs for the CNN engine's tests (tests/test_nn.c), from PyTorch.

Run from the repository root:  /usr/bin/python3 tests/ref/nn_ref.py
Writes tests/data/nn/ref.bin: a sequence of records
  u32 name_len, name, u32 ndim, u32 dims[ndim], f32 data (little-endian),
all tensors in emo's layouts: activations NHWC, conv weights
(Cout, KH, KW, Cin/groups), linear weights (Cout, Cin).
Inputs are float32; the references are computed in float64 and rounded,
so the C tests see only their own rounding error.
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(__file__), "..", "data", "nn", "ref.bin")
records = []


def put(name, t):
    t = torch.as_tensor(t).detach().to(torch.float32).contiguous()
    records.append((name, list(t.shape), t.numpy().tobytes()))


def nhwc(t):
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t


def wconv(w):
    return w.permute(0, 2, 3, 1)


def rnd(*shape):
    return torch.randn(*shape).to(torch.float64)


# ---- conv ---------------------------------------------------------------------
def conv_case(name, n, cin, h, w, cout, k, stride, pad, groups, bias):
    x = rnd(n, cin, h, w).requires_grad_()
    wt = (rnd(cout, cin // groups, k, k) * 0.3).requires_grad_()
    b = rnd(cout).requires_grad_() if bias else None
    y = F.conv2d(x, wt, b, stride=stride, padding=pad, groups=groups)
    dy = rnd(*y.shape)
    y.backward(dy)
    put(name + ".shape", torch.tensor([n, h, w, cin, cout, k, stride, pad, groups, int(bias)]))
    put(name + ".x", nhwc(x))
    put(name + ".w", wconv(wt))
    if bias:
        put(name + ".b", b)
        put(name + ".db", b.grad)
    put(name + ".y", nhwc(y))
    put(name + ".dy", nhwc(dy))
    put(name + ".dx", nhwc(x.grad))
    put(name + ".dw", wconv(wt.grad))


conv_case("conv3", 2, 3, 7, 7, 4, 3, 1, 1, 1, False)
conv_case("conv5s2g2", 2, 4, 8, 8, 6, 5, 2, 2, 2, True)
conv_case("convdw", 2, 4, 6, 6, 4, 3, 1, 1, 4, True)
conv_case("conv1x1", 2, 5, 4, 4, 3, 1, 1, 0, 1, True)
conv_case("conv3s2p0", 3, 2, 9, 8, 5, 3, 2, 0, 1, True)

# ---- batch norm ------------------------------------------------------------------
x = (rnd(3, 5, 4, 4) * 2 + 1).requires_grad_()
g = (rnd(5) * 0.5 + 1).requires_grad_()
be = rnd(5).requires_grad_()
rm, rv = rnd(5) * 0.1, torch.rand(5).double() + 0.5
put("bn.x", nhwc(x)); put("bn.gamma", g); put("bn.beta", be)
put("bn.rm0", rm); put("bn.rv0", rv)
rm1, rv1 = rm.clone(), rv.clone()
y = F.batch_norm(x, rm1, rv1, g, be, training=True, momentum=0.1, eps=1e-5)
dy = rnd(*y.shape)
y.backward(dy)
put("bn.y", nhwc(y)); put("bn.dy", nhwc(dy)); put("bn.dx", nhwc(x.grad))
put("bn.dgamma", g.grad); put("bn.dbeta", be.grad); put("bn.rm1", rm1); put("bn.rv1", rv1)
with torch.no_grad():
    put("bn.y_eval", nhwc(F.batch_norm(x, rm, rv, g, be, training=False, eps=1e-5)))

# ---- activations, pooling, linear -------------------------------------------------------
def unary(name, fn, x):
    x = x.requires_grad_()
    y = fn(x)
    dy = rnd(*y.shape)
    y.backward(dy)
    put(name + ".x", nhwc(x)); put(name + ".y", nhwc(y)); put(name + ".dy", nhwc(dy))
    put(name + ".dx", nhwc(x.grad))


unary("relu", F.relu, rnd(2, 3, 4, 4))
unary("silu", F.silu, rnd(2, 3, 4, 4) * 3)
unary("maxpool2", lambda t: F.max_pool2d(t, 2, 2), rnd(2, 3, 6, 6))
unary("maxpool3s2p1", lambda t: F.max_pool2d(t, 3, 2, 1), rnd(2, 3, 7, 7))
unary("avgpool2", lambda t: F.avg_pool2d(t, 2, 2), rnd(2, 3, 6, 6))
unary("avgpool3s2p1", lambda t: F.avg_pool2d(t, 3, 2, 1), rnd(2, 3, 7, 7))
unary("gap", lambda t: F.adaptive_avg_pool2d(t, 1), rnd(2, 6, 3, 5))

x = rnd(4, 10).requires_grad_()
w = rnd(6, 10).requires_grad_()
b = rnd(6).requires_grad_()
y = F.linear(x, w, b)
dy = rnd(4, 6)
y.backward(dy)
for k, v in dict(x=x, w=w, b=b, y=y, dy=dy, dx=x.grad, dw=w.grad, db=b.grad).items():
    put("linear." + k, v)

# ---- loss ------------------------------------------------------------------------------------
z = (rnd(5, 7) * 2).requires_grad_()
labels = torch.tensor([0, 3, 6, 2, 3])
soft = torch.softmax(rnd(5, 7), 1)
put("ce.z", z); put("ce.labels", labels); put("ce.soft", soft)
for tag, target, eps in (("hard", labels, 0.0), ("smooth", labels, 0.1), ("soft", soft, 0.0),
                         ("softsmooth", soft, 0.2)):
    z.grad = None
    loss = F.cross_entropy(z, target, label_smoothing=eps)
    loss.backward()
    put("ce.%s.loss" % tag, loss.reshape(1)); put("ce.%s.dz" % tag, z.grad)

# ---- a small network, and optimiser steps -----------------------------------------------------------
NET = """input w=12 h=12 channels=1
conv filters=4 size=3 pad=1 bias=0
bn
relu name=a
conv filters=4 size=3 pad=1
silu
add from=a
maxpool size=2
conv filters=8 size=3 stride=2 pad=1 groups=2 bias=0
bn
relu
flatten
dropout p=0.3
linear out=5
"""


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.c1 = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.c3 = nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2, bias=False)
        self.b3 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(3 * 3 * 8, 5)

    def forward(self, x):
        a = F.relu(self.b1(self.c1(x)))
        y = F.silu(self.c2(a)) + a
        y = F.max_pool2d(y, 2)
        y = F.relu(self.b3(self.c3(y)))
        y = y.permute(0, 2, 3, 1).flatten(1)  # emo flattens NHWC
        return self.fc(y)  # emo's dropout layer: the C test sets p = 0

    def ordered(self):
        """(tensor, emo layout fn, decays) in emo's parameter order."""
        out = []
        for m in (self.c1, self.b1, self.c2, self.c3, self.b3, self.fc):
            if isinstance(m, torch.nn.Conv2d):
                out.append((m.weight, wconv, True))
                if m.bias is not None:
                    out.append((m.bias, None, False))
            elif isinstance(m, torch.nn.BatchNorm2d):
                out += [(m.weight, None, False), (m.bias, None, False)]
            else:
                out += [(m.weight, None, True), (m.bias, None, False)]
        return out


def flat(net, grads=False):
    parts = []
    for p, fn, _ in net.ordered():
        t = p.grad if grads else p
        parts.append((fn(t) if fn else t).reshape(-1))
    return torch.cat(parts)


def stats(net):
    return torch.cat([torch.cat([b.running_mean, b.running_var]) for b in (net.b1, net.b3)])


put("net.cfg", torch.tensor([float(c) for c in NET.encode()]))
x = rnd(3, 1, 12, 12)
labels = torch.tensor([1, 4, 2])
net0 = Net().double()
with torch.no_grad():
    for b in (net0.b1, net0.b3):
        b.weight.uniform_(0.5, 1.5)
        b.bias.uniform_(-0.5, 0.5)
state = {k: v.clone() for k, v in net0.state_dict().items()}
put("net.x", nhwc(x)); put("net.labels", labels); put("net.params", flat(net0))

xg = x.clone().requires_grad_()
logits = net0(xg)
loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
loss.backward()
put("net.logits", logits); put("net.loss", loss.reshape(1)); put("net.grads", flat(net0, True))
put("net.dx", nhwc(xg.grad)); put("net.stats1", stats(net0))
net0.eval()
with torch.no_grad():
    put("net.logits_eval", net0(x))

OPTS = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-2),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2),
}
WD = {"sgd": 1e-3, "adam": 1e-3, "adamw": 0.1}
for name, make in OPTS.items():
    net = Net().double()
    net.load_state_dict(state)
    net.train()
    od = [p for p, _, d in net.ordered() if d]
    nd = [p for p, _, d in net.ordered() if not d]
    opt = make([{"params": od, "weight_decay": WD[name]}, {"params": nd, "weight_decay": 0.0}])
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), labels, label_smoothing=0.1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    put("opt.%s.params" % name, flat(net))
    put("opt.%s.stats" % name, stats(net))


# ---- bf16 convolutions ----------------------------------------------------------
# Inputs in float32 as the engine gets them. ".y/.dx/.dw/.db" are exact
# (float64) results; ".y_b/.dx_b/.dw_b" the same with the operands the bf16
# path rounds (input and weights for y, output gradient and weights for dx,
# input and output gradient for dw) rounded to bfloat16 first, as torch's
# float -> bfloat16 conversion does (nearest even). The bias gradient is
# fp32 in both. Outputs 4x4x16 = 256 values: the conv is the net's last layer.
def bf(t):
    return t.to(torch.float32).to(torch.bfloat16).to(torch.float64)


def conv_bf16_case(name, n, cin, h, w, cout, k, stride, pad, bias):
    x = rnd(n, cin, h, w).float().double()
    wt = (rnd(cout, cin, k, k) * 0.3).float().double()
    b = rnd(cout).float().double() if bias else None
    y = F.conv2d(x, wt, b, stride=stride, padding=pad)
    dy = rnd(*y.shape).float().double()
    put(name + ".shape", torch.tensor([n, h, w, cin, cout, k, stride, pad, 1, int(bias)]))
    put(name + ".x", nhwc(x))
    put(name + ".w", wconv(wt))
    if bias:
        put(name + ".b", b)
        put(name + ".db", dy.sum((0, 2, 3)))
    put(name + ".dy", nhwc(dy))
    for tag, xx, ww, dd in (("", x, wt, dy), ("_b", bf(x), bf(wt), bf(dy))):
        xx = xx.clone().requires_grad_()
        ww = ww.clone().requires_grad_()
        yy = F.conv2d(xx, ww, b, stride=stride, padding=pad)
        yy.backward(dd)
        put(name + ".y" + tag, nhwc(yy))
        put(name + ".dx" + tag, nhwc(xx.grad))
        put(name + ".dw" + tag, wconv(ww.grad))


conv_bf16_case("bconv16", 2, 16, 6, 6, 16, 3, 1, 0, False)
conv_bf16_case("bconv32s2", 3, 32, 7, 7, 16, 3, 2, 1, True)
conv_bf16_case("bconv1x1", 2, 64, 4, 4, 16, 1, 1, 0, True)

with open(OUT, "wb") as f:
    f.write(b"NNRF")
    for name, shape, data in records:
        nb = name.encode()
        f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<I", len(shape)))
        f.write(struct.pack("<%dI" % len(shape), *shape))
        f.write(data)
print("wrote %s: %d tensors, %d bytes" % (OUT, len(records), os.path.getsize(OUT)), file=sys.stderr)
