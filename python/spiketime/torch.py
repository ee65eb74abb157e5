"""Exact spiking layers for PyTorch.

    import torch, spiketime.torch as st
    net = torch.nn.Sequential(st.LIF(784, 800, tau_m=40, tau_s=20, t_end=40),
                              st.LIF(800, 10, tau_m=40, tau_s=20, t_end=40))
    times = st.encode(images, t_in_max=10)          # (batch, 784, 1), +inf: no spike
    out = net(times)                                # (batch, 10, K), ascending, +inf padded
    loss = st.all_spikes_loss(out, labels, tau_out=1.0, t_end=40)
    loss.backward()                                 # exact gradients (MODEL.md section 3)

Spike times are tensors of shape (batch, neurons, K): each neuron's spikes
ascending along the last axis, padded with +inf. The forward pass and the
exact reverse pass (with respect to the weights and to every input spike
time) run in spiketime's C++ engine, the batch spread over threads. Tensors
live on the CPU.
"""
import math
from typing import Optional

import torch

from . import _core

__all__ = ["LIF", "LIFStack", "encode", "first_spike_loss", "all_spikes_loss", "first_spike_scores", "all_spikes_scores",
           "silent_push"]


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: must be a positive, finite number, got {value!r}")
    return float(value)


class _NetworkFunction(torch.autograd.Function):
    """Layers run in one engine call: times (batch, n_in, K) -> the last
    layer's spikes; between layers the spikes stay inside the engine."""

    @staticmethod
    def forward(ctx, times, owner, layers, *weights):
        params = [(l.tau_m, l.tau_s, l.theta, l._max_spikes) for l in layers]
        first = layers[0]
        out, ctx.batch = _core.network_forward(owner._engine, [w.detach().numpy() for w in weights], params,
                                               first.t_end, times.detach().to(torch.float64).numpy(), first.threads)
        ctx.layer = first
        return torch.from_numpy(out).to(times.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        dtype = grad_out.dtype
        grad_ws, grad_in = _core.network_backward(ctx.batch, grad_out.detach().to(torch.float64).contiguous().numpy(),
                                                  ctx.layer.min_vdot, ctx.needs_input_grad[0], ctx.layer.threads,
                                                  single=dtype == torch.float32)
        # The engine writes each dL/dw input-major: its transpose has the
        # weight's shape, and the weight's own layout (LIF keeps it so).
        return (None if grad_in is None else torch.from_numpy(grad_in).to(dtype), None, None,
                *[torch.from_numpy(g).t() for g in grad_ws])


def _check_times(times, n_in, dtype):
    if not isinstance(times, torch.Tensor):
        raise ValueError(f"times: expected a torch.Tensor, got {type(times).__name__}")
    if times.dtype != dtype:
        raise ValueError(f"times: dtype {times.dtype}, the layer's is {dtype}")
    if times.dim() != 3 or times.shape[1] != n_in:
        raise ValueError(f"times: expected shape (batch, {n_in}, K), got {tuple(times.shape)}")
    if times.device.type != "cpu":
        raise ValueError("times: must be on the CPU")


def _spike_counts(engine, layer):
    if engine.last is None:
        raise RuntimeError("spike_counts: no forward pass yet")
    return torch.from_numpy(engine.last.spike_counts(layer))


class LIF(torch.nn.Module):
    """A fully connected layer of current-based LIF neurons (MODEL.md), as in
    docs/SIMULATE.md and the training config: tau_s dI/dt = -I, each input
    spike adds its weight to I, tau_m dV/dt = -V + I, a spike when V reaches
    theta subtracts theta. max_spikes=None: unlimited (1: the single-spike
    network). min_vdot: the grazing guard of the reverse pass, dV/dt at
    threshold floored at min_vdot * theta / tau_m. threads: 0 uses every
    core; the weight gradient's summation order, and so its last bits,
    depend on the thread count."""

    def __init__(self, n_in: int, n_out: int, *, tau_m: float, tau_s: float, t_end: float, theta: float = 1.0,
                 max_spikes: Optional[int] = None, min_vdot: float = 1e-12, dtype=torch.float64, threads: int = 0):
        super().__init__()
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        self.tau_m, self.tau_s, self.t_end = _positive("tau_m", tau_m), _positive("tau_s", tau_s), _positive("t_end", t_end)
        self.theta = _positive("theta", theta)
        if max_spikes is not None and (isinstance(max_spikes, bool) or not isinstance(max_spikes, int) or max_spikes < 1):
            raise ValueError(f"max_spikes: must be None (unlimited) or a positive integer, got {max_spikes!r}")
        self.max_spikes = max_spikes
        if isinstance(min_vdot, bool) or not isinstance(min_vdot, (int, float)) or not min_vdot >= 0 or math.isinf(min_vdot):
            raise ValueError(f"min_vdot: must be a finite number >= 0, got {min_vdot!r}")
        self.min_vdot = float(min_vdot)
        if dtype not in (torch.float64, torch.float32):
            raise ValueError(f"dtype: must be torch.float64 or torch.float32, got {dtype}")
        if isinstance(threads, bool) or not isinstance(threads, int) or not 0 <= threads <= 1024:
            raise ValueError(f"threads: must be an integer from 0 (every core) to 1024, got {threads!r}")
        self.threads = threads
        # Shape (n_out, n_in), stored input-major (the transpose of an
        # (n_in, n_out) array), as the engine holds it: the weights go in and
        # the gradients come out by rows instead of a transpose.
        self.weight = torch.nn.Parameter(torch.empty(n_in, n_out, dtype=dtype).t())
        self._engine = _core.Engine()
        self.init_drive_(n_in)

    def init_drive_(self, n_spikes: float, mean_drive: float = 2.0, std_drive: float = 2.0, generator=None):
        """The trainer's initialization (init.hpp): weights ~ Normal(mean_drive /
        n_spikes, std_drive / sqrt(n_spikes)) in units of theta over the peak of
        one PSP, n_spikes the expected input spikes per sample, so that neurons
        fire from the first step."""
        n_spikes = _positive("n_spikes", n_spikes)
        unit = self.theta / _core.psp_peak(self.tau_m, self.tau_s)
        with torch.no_grad():  # drawn in (n_out, n_in) order, whatever the storage
            draw = torch.empty(self.weight.shape, dtype=self.weight.dtype)
            self.weight.copy_(draw.normal_(unit * mean_drive / n_spikes, unit * std_drive / math.sqrt(n_spikes),
                                           generator=generator))
        return self

    @property
    def _max_spikes(self):
        return 0 if self.max_spikes is None else self.max_spikes

    def forward(self, times: torch.Tensor) -> torch.Tensor:
        _check_times(times, self.weight.shape[1], self.weight.dtype)
        return _NetworkFunction.apply(times, self, [self], self.weight)

    @property
    def spike_counts(self) -> torch.Tensor:
        """The spike count of each neuron in each sample of the last forward, (batch, n_out)."""
        return _spike_counts(self._engine, 0)

    def extra_repr(self):
        return (f"{self.weight.shape[1]}, {self.weight.shape[0]}, tau_m={self.tau_m}, tau_s={self.tau_s}, "
                f"t_end={self.t_end}, theta={self.theta}, max_spikes={self.max_spikes}")


class LIFStack(torch.nn.Module):
    """LIF layers applied in turn, as torch.nn.Sequential would, but in one
    engine call: the hidden spikes stay spike trains inside the engine
    instead of padded tensors, which is faster. The layers must agree on
    t_end, min_vdot and threads. spike_counts(l) gives each layer's spike
    counts in the last forward (for silent_push)."""

    def __init__(self, *layers: LIF):
        super().__init__()
        if not layers or not all(isinstance(l, LIF) for l in layers):
            raise ValueError("layers: expected one or more spiketime.torch.LIF")
        for a, b in zip(layers, layers[1:]):
            if b.weight.shape[1] != a.weight.shape[0]:
                raise ValueError(f"layers: {a.weight.shape[0]} neurons feed a layer of {b.weight.shape[1]} inputs")
        for name in ("t_end", "min_vdot", "threads"):
            if len({getattr(l, name) for l in layers}) > 1:
                raise ValueError(f"layers: differ in {name}; one engine call has one")
        if len({l.weight.dtype for l in layers}) > 1:
            raise ValueError("layers: differ in dtype")
        self.layers = torch.nn.ModuleList(layers)
        self._engine = _core.Engine()

    def forward(self, times: torch.Tensor) -> torch.Tensor:
        first = self.layers[0]
        _check_times(times, first.weight.shape[1], first.weight.dtype)
        return _NetworkFunction.apply(times, self, list(self.layers), *[l.weight for l in self.layers])

    def spike_counts(self, layer: int) -> torch.Tensor:
        """The spike count of each neuron of layer `layer` in each sample of the last forward, (batch, n)."""
        return _spike_counts(self._engine, layer)


def encode(images: torch.Tensor, t_in_max: float, bias_times=()) -> torch.Tensor:
    """The trainer's latency code (MODEL.md section 4): a feature x in (0, 1]
    spikes once at t_in_max (1 - x), x = 0 never; images (batch, ...) are
    flattened, and a value outside [0, 1] is an error (as in Model.predict).
    Bias inputs, one per entry of bias_times, follow the features.
    Returns (batch, n_features + len(bias_times), 1)."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise ValueError("images: expected a floating-point torch.Tensor")
    t_in_max = _positive("t_in_max", t_in_max)
    x = images.reshape(images.shape[0], -1)
    outside = ~((x >= 0) & (x <= 1))  # NaN too
    if bool(outside.any()):
        row, col = (int(k) for k in outside.nonzero()[0])
        raise ValueError(f"images: must lie in [0, 1], got {x[row, col].item()} at sample {row}, feature {col} "
                         "(8-bit images: divide by 255)")
    times = torch.where(x > 0, t_in_max * (1 - x), torch.full_like(x, math.inf))
    if len(bias_times):
        bias = torch.tensor([float(t) for t in bias_times], dtype=x.dtype).expand(x.shape[0], -1)
        times = torch.cat([times, bias], dim=1)
    return times.unsqueeze(-1)


def _check_output(times, labels):
    if not isinstance(times, torch.Tensor) or times.dim() != 3:
        raise ValueError("times: expected the output spikes, shape (batch, classes, K)")
    if not isinstance(labels, torch.Tensor) or labels.shape != times.shape[:1]:
        raise ValueError(f"labels: expected shape ({times.shape[0]},)")


def first_spike_scores(times: torch.Tensor, tau_out: float, t_end: float) -> torch.Tensor:
    """-t_first / tau_out per class, a silent class counting as t_end (with no
    timing gradient); the class is the highest score."""
    if times.shape[2] == 0:  # no output fired: still a function of the graph, with zero gradient
        return times.sum(2) - t_end / tau_out
    first = times[:, :, 0]
    return -torch.where(torch.isfinite(first), first, torch.full_like(first, t_end)) / tau_out


def all_spikes_scores(times: torch.Tensor, tau_out: float, t_end: float) -> torch.Tensor:
    """log sum_k exp(-t_k / tau_out) over every spike of a class (-t_end /
    tau_out when silent)."""
    if times.shape[2] == 0:  # no output fired: still a function of the graph, with zero gradient
        return times.sum(2) - t_end / tau_out
    finite = torch.isfinite(times)
    safe = torch.where(finite, times, torch.zeros_like(times))
    terms = torch.where(finite, -safe / tau_out, torch.full_like(times, -math.inf))
    silent = ~finite.any(dim=2)
    z = torch.logsumexp(torch.where(silent.unsqueeze(2), torch.zeros_like(terms), terms), dim=2)
    return torch.where(silent, torch.full_like(z, -t_end / tau_out), z)


def first_spike_loss(times, labels, tau_out: float, t_end: float) -> torch.Tensor:
    """The trainer's first-spike readout: mean over the batch of
    -log softmax(-t_first / tau_out)[label]."""
    _check_output(times, labels)
    return torch.nn.functional.cross_entropy(first_spike_scores(times, _positive("tau_out", tau_out), t_end), labels)


def all_spikes_loss(times, labels, tau_out: float, t_end: float) -> torch.Tensor:
    """The trainer's all-spikes readout: mean over the batch of
    -log softmax(z)[label], z as all_spikes_scores gives it."""
    _check_output(times, labels)
    return torch.nn.functional.cross_entropy(all_spikes_scores(times, _positive("tau_out", tau_out), t_end), labels)


def silent_push(layer: LIF, times_in: torch.Tensor, times_out: torch.Tensor, strength: float,
                per_sample: bool) -> torch.Tensor:
    """The trainer's remedy for silent neurons (docs/TRAINING.md), as a loss
    term to add: a spike that does not exist has no gradient, so a neuron
    silent over the whole batch gets -strength per input spike on the gradient
    of each of its weights, averaged over the batch; with per_sample (the
    trainer's treatment of the output layer) so does each neuron in each
    sample where it is silent, in addition. Its value is
    -strength * mean_b sum_(i,j) n_bj w_ij over the silent (b, i), n_bj the
    spikes of input j in sample b. times_in and times_out are spike times
    (batch, n, K) or spike counts (batch, n), as LIFStack.spike_counts gives.
    This is the trainer's push (config silent_output=push); its default for a
    silent true-class output, the gradient at the peak of its potential
    (silent_output=peak), has no counterpart here."""
    if times_in.dim() == 3:
        counts = torch.isfinite(times_in.detach()).sum(2)
    else:
        counts = times_in.detach()
    counts = counts.to(layer.weight.dtype)
    if times_out.dim() == 2:
        silent = times_out == 0
    elif times_out.shape[2] == 0:
        silent = torch.ones(times_out.shape[:2], dtype=torch.bool)
    else:
        silent = ~torch.isfinite(times_out.detach()[:, :, 0])  # ascending: the first slot tells
    rows = silent.all(0).nonzero().squeeze(1)  # silent in every sample
    if rows.numel() == 0:  # the usual case once trained: no term, and no dense zero gradient to add up
        push = torch.zeros((), dtype=layer.weight.dtype)
    else:
        push = (counts @ layer.weight[rows].t()).sum(1).mean()
    if per_sample:
        push = push + ((counts @ layer.weight.t()) * silent).sum(1).mean()
    return -strength * push
