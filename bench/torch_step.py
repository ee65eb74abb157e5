#!/usr/bin/env python3
"""Where a training step of spiketime.torch spends its time: milliseconds per
batch of 32 MNIST samples in each phase (encoding, forward, readout and push,
backward, Adam), for the example's network (784-800-10, LIFStack) over the
first 100 batches from its initialization. Compare with the CLI trainer's
seconds per epoch / 1563 batches.

    PYTHONPATH=build/python python3 bench/torch_step.py [--data-dir data]
"""
import argparse
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples" / "python"))
import spiketime  # noqa: E402
import spiketime.torch as st  # noqa: E402
import train_mnist_torch as example  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="data")
    p.add_argument("--batches", type=int, default=100)
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="of the weights, the spike times and the optimizer state (the engine computes in float64)")
    args = p.parse_args()
    x, y = example.load_mnist(args.data_dir, 10000)["train"]
    torch.manual_seed(1)
    dtype = getattr(torch, args.dtype)
    x = x.to(dtype)
    kw = dict(tau_m=40.0, tau_s=20.0, t_end=40.0, min_vdot=1.0, dtype=dtype)
    hidden, output = st.LIF(784, 800, **kw), st.LIF(800, 10, **kw)
    net = st.LIFStack(hidden, output)
    hidden.init_drive_((x[:1000] > 0).sum(1).double().mean().item())
    output.init_drive_(2400.0)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3, foreach=True)
    seconds = dict.fromkeys(["encode", "forward", "readout+push", "backward", "adam"], 0.0)

    def timed(phase, f):
        start = time.perf_counter()
        result = f()
        seconds[phase] += time.perf_counter() - start
        return result

    for b in range(args.batches):
        rows = torch.arange(b * 32, (b + 1) * 32)
        inputs = timed("encode", lambda: st.encode(x[rows], 10.0))
        out = timed("forward", lambda: net(inputs))

        def loss():
            counts = net.spike_counts(0)
            return (st.all_spikes_loss(out, y[rows], 1.0, 40.0)
                    + st.silent_push(hidden, inputs, counts, 0.01, per_sample=False)
                    + st.silent_push(output, counts, net.spike_counts(1), 0.01, per_sample=True))

        total = timed("readout+push", loss)
        optimizer.zero_grad()
        timed("backward", total.backward)
        timed("adam", optimizer.step)
    print(f"spiketime {spiketime.__version__}, SIMD target {spiketime.simd_target()}, torch {torch.__version__}")
    for phase, s in seconds.items():
        print(f"{phase:>14} {1000 * s / args.batches:7.2f} ms per batch")
    print(f"{'total':>14} {1000 * sum(seconds.values()) / args.batches:7.2f} ms per batch")


if __name__ == "__main__":
    main()
