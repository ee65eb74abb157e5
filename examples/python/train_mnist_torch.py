#!/usr/bin/env python3
"""Trains a 784-800-10 multi-spike network on MNIST with torch.optim.Adam,
the exact forward and backward passes running in spiketime's engine
(spiketime.torch.LIF). The settings are those of the shipped MNIST model
(experiments/configs/mnist-multi.json): tau_m 40, tau_s 20, t_end 40, the
all-spikes readout with tau_out 1, the guard min_vdot 1, cosine learning rate,
and the trainer's push for silent neurons (silent_push 0.01).

    PYTHONPATH=build/python python3 examples/python/train_mnist_torch.py

On several processes (here or on several machines) through PyTorch's own
launcher, DistributedDataParallel on the gloo backend; each process takes
--batch-size samples of every global batch. The gradients are averaged
across processes; the push for hidden neurons silent over the batch looks at
each process's own samples, as batch statistics do without synchronization:


    PYTHONPATH=build/python python3 -m torch.distributed.run --nproc_per_node 2 \\
        examples/python/train_mnist_torch.py --batch-size 16 --threads 1
"""
import argparse
import math
import os
import pathlib
import time

import numpy as np
import torch
import torch.distributed as dist

import spiketime.torch as st


def read_idx(path, offset):
    return np.frombuffer(pathlib.Path(path).read_bytes(), np.uint8, offset=offset)


def load_mnist(data_dir, validation):
    d = pathlib.Path(data_dir) / "mnist"
    images = {s: read_idx(d / f"{s}-images-idx3-ubyte", 16).reshape(-1, 784) for s in ("train", "t10k")}
    labels = {s: read_idx(d / f"{s}-labels-idx1-ubyte", 8) for s in ("train", "t10k")}
    features = lambda x: torch.from_numpy(x.astype(np.float32) / np.float32(255)).double()  # as the C++ loader
    n = len(labels["train"]) - validation  # the validation split is the end of the training file, as the trainer's
    return {
        "train": (features(images["train"][:n]), torch.from_numpy(labels["train"][:n].astype(np.int64))),
        "validation": (features(images["train"][n:]), torch.from_numpy(labels["train"][n:].astype(np.int64))),
        "test": (features(images["t10k"]), torch.from_numpy(labels["t10k"].astype(np.int64))),
    }


def accuracy(net, x, y, args, batch=1000):
    correct = 0
    with torch.no_grad():
        for k in range(0, len(y), batch):
            out = net(st.encode(x[k : k + batch], args.t_in_max))
            correct += (st.all_spikes_scores(out, args.tau_out, args.t_end).argmax(1) == y[k : k + batch]).sum().item()
    return correct / max(len(y), 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.environ.get("SPIKETIME_DATA", "data"))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32, help="samples per process and step")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=800)
    p.add_argument("--tau-m", type=float, default=40.0)
    p.add_argument("--tau-s", type=float, default=20.0)
    p.add_argument("--t-end", type=float, default=40.0)
    p.add_argument("--t-in-max", type=float, default=10.0)
    p.add_argument("--tau-out", type=float, default=1.0)
    p.add_argument("--min-vdot", type=float, default=1.0)
    p.add_argument("--silent-push", type=float, default=0.01)
    p.add_argument("--validation", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="engine threads per process (0: every core)")
    p.add_argument("--steps", type=int, default=0, help="stop after this many optimizer steps (0: all epochs)")
    p.add_argument("--no-eval", action="store_true", help="skip the validation and test passes")
    p.add_argument("--save", help="write the final weights (state_dict) here")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="of the weights, the spike times and Adam's state; the engine computes in float64 either way "
                        "(float32 halves the memory traffic of the optimizer)")
    args = p.parse_args()

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)

    data = load_mnist(args.data_dir, args.validation)
    dtype = getattr(torch, args.dtype)
    data = {split: (x.to(dtype), y) for split, (x, y) in data.items()}
    x_train, y_train = data["train"]
    torch.manual_seed(args.seed)
    kw = dict(tau_m=args.tau_m, tau_s=args.tau_s, t_end=args.t_end, min_vdot=args.min_vdot, threads=args.threads,
              dtype=dtype)
    # Both layers in one engine call (torch.nn.Sequential of the two LIF
    # layers computes the same, with the hidden spikes as a padded tensor).
    hidden, output = st.LIF(784, args.hidden, **kw), st.LIF(args.hidden, 10, **kw)
    net = st.LIFStack(hidden, output)
    # The trainer's initialization: mean drive 2 over the expected input spikes.
    hidden.init_drive_((x_train[:1000] > 0).sum(1).double().mean().item())
    output.init_drive_(3.0 * args.hidden)
    model = torch.nn.parallel.DistributedDataParallel(net) if distributed else net
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, foreach=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: 0.5 * (1 + math.cos(math.pi * e / args.epochs)))

    step, global_batch = 0, args.batch_size * world
    for epoch in range(args.epochs):
        started = time.perf_counter()
        order = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(args.seed * 1000003 + epoch))
        loss_sum = correct = seen = 0
        # On several processes the last, partial global batch is left out:
        # every process must take the same number of steps, each over the
        # same number of samples, for the averaged gradient to be the mean.
        end = len(order) - len(order) % global_batch if distributed else len(order)
        for begin in range(0, end, global_batch):
            mine = order[begin : begin + global_batch][rank * args.batch_size : (rank + 1) * args.batch_size]
            inputs = st.encode(x_train[mine], args.t_in_max)
            out = model(inputs)
            loss = st.all_spikes_loss(out, y_train[mine], args.tau_out, args.t_end)
            counts = net.spike_counts(0)
            push = (st.silent_push(hidden, inputs, counts, args.silent_push, per_sample=False)
                    + st.silent_push(output, counts, net.spike_counts(1), args.silent_push, per_sample=True))
            optimizer.zero_grad()
            (loss + push).backward()
            optimizer.step()
            with torch.no_grad():
                correct += (st.all_spikes_scores(out, args.tau_out, args.t_end).argmax(1) == y_train[mine]).sum().item()
            loss_sum += loss.item() * len(mine)
            seen += len(mine)
            step += 1
            if args.steps and step == args.steps:
                break
        schedule.step()
        seconds = time.perf_counter() - started
        if rank == 0:
            line = f"epoch {epoch + 1}/{args.epochs}  loss {loss_sum / seen:.4f}  train {100 * correct / seen:.2f}%"
            if not args.no_eval:
                line += (f"  validation {100 * accuracy(net, *data['validation'], args):.2f}%"
                         f"  test {100 * accuracy(net, *data['test'], args):.2f}%")
            print(f"{line}  {seconds:.1f} s ({seen * world / seconds:.0f} samples/s)", flush=True)
        if args.steps and step == args.steps:
            break
    if rank == 0 and args.save:
        torch.save(net.state_dict(), args.save)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
