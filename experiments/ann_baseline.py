#!/usr/bin/python3
"""The ANN rows of the accuracy table: non-convolutional MLPs of the SNNs'
shapes (784-800-10 and 784-800-800-10; ReLU, float32, softmax cross-entropy,
Adam with a cosine schedule) trained on the same splits as spiketime (the
first 50,000 training images; validation: the last 10,000; test: the 10,000
test images), the epoch chosen on validation.

    experiments/ann_baseline.py [--datasets mnist fashion-mnist] [--hidden 800 800-800] [--seeds 1 2 3]
                                [--epochs 30] [--batch-size 128] [--lr 1e-3] [--threads N]
                                [--shift PIXELS] [--flip P] [--dropout P] [--weight-decay WD]

--shift and --flip augment the training images as spiketime's config keys
input_shift and input_flip do: each image mirrored left to right with
probability P, then moved by dx and dy pixels, each uniform in [-PIXELS,
PIXELS], zeros moved in; drawn anew for every image in every epoch.
--dropout and --weight-decay regularize as spiketime's hidden_dropout and
weight_decay do: each hidden unit zeroed with probability P in training
(torch.nn.Dropout after every hidden ReLU, the survivors scaled by
1 / (1 - P)), and decoupled weight decay, w -= lr * WD * w at every step
(torch.optim.AdamW; Adam without it).

Writes experiments/results/ann.csv after every run, keeping its rows of other
settings and reusing a finished run of the same settings, so an interrupted
call loses at most the run in progress. Needs Debian's python3-torch
(scripts/install-deps.sh --experiments): started by another python3, the
script runs again under /usr/bin/python3. Debian's torch calls whichever BLAS
libblas.so.3 is, the slow reference one by default, so the script re-runs
itself with the OpenBLAS of libopenblas0-pthread first on LD_LIBRARY_PATH.
"""
import argparse
import gzip
import os
import sysconfig
import time

import common

# Debian's OpenBLAS with pthreads, of this machine's architecture.
OPENBLAS = f"/usr/lib/{sysconfig.get_config_var('MULTIARCH') or 'x86_64-linux-gnu'}/openblas-pthread"
common.python_with(["numpy", "torch"], library_dir=OPENBLAS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

DATA_DIRS = {
    "mnist": (os.path.join(os.environ.get("SPIKETIME_DATA", os.path.join(common.ROOT, "data")), "mnist"), ""),
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist", ".gz"),
}


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        common.fail(f"{path}: {e.strerror or e} (scripts/fetch-data.sh fetches the data)")
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * d:8 + 4 * d], "big") for d in range(dims)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if raw[:3] != b"\x00\x00\x08" or data.size != int(np.prod(shape)):
        common.fail(f"{path}: not an IDX file of unsigned bytes, or truncated")
    return data.reshape(shape)


def load(dataset, validation_size=10000):
    directory, ext = DATA_DIRS[dataset]
    def split(prefix):
        images = read_idx(f"{directory}/{prefix}-images-idx{3}-ubyte{ext}").reshape(-1, 784).astype(np.float32) / 255
        labels = read_idx(f"{directory}/{prefix}-labels-idx1-ubyte{ext}").astype(np.int64)
        return torch.from_numpy(images), torch.from_numpy(labels)
    x, y = split("train")
    n = len(y) - validation_size
    return (x[:n], y[:n]), (x[n:], y[n:]), split("t10k")


def accuracy(model, x, y):
    model.eval()  # dropout off
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def mlp(hidden, dropout=0.0):
    layers, width = [], 784
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        if dropout > 0:
            layers.append(torch.nn.Dropout(dropout))
        width = h
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))


def augment(x, shift, flip):
    """spiketime's input_shift and input_flip on a batch of 28 x 28 images
    (rows of 784), drawn from torch's generator."""
    n = x.shape[0]
    images = x.view(n, 28, 28)
    if flip > 0:
        mirrored = torch.rand(n) < flip
        images = torch.where(mirrored[:, None, None], images.flip(2), images)
    if shift > 0:
        # out[r, c] = image[r - dy, c - dx], zero outside: read from the image padded by `shift`.
        padded = torch.nn.functional.pad(images, (shift, shift, shift, shift))
        dx = torch.randint(-shift, shift + 1, (n,))
        dy = torch.randint(-shift, shift + 1, (n,))
        grid = torch.arange(28)
        rows = (grid[None, :] - dy[:, None] + shift)[:, :, None]
        cols = (grid[None, :] - dx[:, None] + shift)[:, None, :]
        images = padded[torch.arange(n)[:, None, None], rows, cols]
    return images.reshape(n, 784)


def train(dataset, hidden, seed, epochs, batch_size, lr, threads, shift=0, flip=0.0, dropout=0.0, weight_decay=0.0):
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    (xt, yt), (xv, yv), (xs, ys) = load(dataset)
    model = mlp([int(h) for h in hidden.split("-")], dropout)
    if weight_decay > 0:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    loss_fn = torch.nn.CrossEntropyLoss()
    best = None
    start = time.time()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(yt))
        for b in range(0, len(yt), batch_size):
            idx = order[b:b + batch_size]
            optimizer.zero_grad()
            x = augment(xt[idx], shift, flip) if shift > 0 or flip > 0 else xt[idx]
            loss_fn(model(x), yt[idx]).backward()
            optimizer.step()
        schedule.step()
        val = accuracy(model, xv, yv)
        if best is None or val > best["validation_accuracy"]:
            best = {"epoch": epoch, "validation_accuracy": val, "test_accuracy": accuracy(model, xs, ys),
                    "train_accuracy": accuracy(model, xt, yt)}
        print(f"  {dataset} 784-{hidden}-10 seed {seed} epoch {epoch}: validation {100 * val:.2f}%", flush=True)
    return {"dataset": dataset, "hidden": hidden, "seed": seed, "epochs": epochs, "batch_size": batch_size, "lr": lr,
            "shift": shift, "flip": flip, "dropout": dropout, "weight_decay": weight_decay,
            "best_epoch": best["epoch"], "train_accuracy": best["train_accuracy"],
            "validation_accuracy": best["validation_accuracy"], "test_accuracy": best["test_accuracy"],
            "seconds": round(time.time() - start, 1), "torch": torch.__version__,
            "commit": common.git_commit()["commit"]}


FIELDS = ["dataset", "hidden", "seed", "epochs", "batch_size", "lr", "shift", "flip", "dropout", "weight_decay",
          "best_epoch", "train_accuracy", "validation_accuracy", "test_accuracy", "seconds", "torch", "commit"]
CSV = os.path.join(common.RESULTS, "ann.csv")


KEY = ["dataset", "hidden", "seed", "epochs", "batch_size", "lr", "shift", "flip", "dropout", "weight_decay"]


def read_rows():
    """The rows of ann.csv (those of older versions get today's defaults)."""
    return [dict(r, hidden=r.get("hidden") or "800", shift=r.get("shift") or 0, flip=r.get("flip") or 0.0,
                 dropout=r.get("dropout") or 0.0, weight_decay=r.get("weight_decay") or 0.0)
            for r in common.read_csv(CSV)]


def key(row):
    return tuple(str(float(row[k])) if k in ("lr", "flip", "dropout", "weight_decay") else str(row[k]) for k in KEY)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"], choices=list(DATA_DIRS))
    p.add_argument("--hidden", nargs="+", default=["800", "800-800"],
                   help="hidden widths of each network, joined by '-' (800-800: two hidden layers)")
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--shift", type=int, default=0, help="augmentation: largest move of an image, in pixels")
    p.add_argument("--flip", type=float, default=0.0, help="augmentation: probability of mirroring an image")
    p.add_argument("--dropout", type=float, default=0.0, help="probability of dropping each hidden unit in training")
    p.add_argument("--weight-decay", type=float, default=0.0, help="decoupled weight decay (AdamW)")
    a = p.parse_args()
    if not 0 <= a.shift <= 27:
        common.fail(f"--shift {a.shift}: expected 0 to 27 pixels")
    if not 0 <= a.flip <= 1:
        common.fail(f"--flip {a.flip}: expected a probability, in [0, 1]")
    if not 0 <= a.dropout < 1:
        common.fail(f"--dropout {a.dropout}: expected a probability, in [0, 1)")
    if not 0 <= a.weight_decay < 1e3:
        common.fail(f"--weight-decay {a.weight_decay}: expected a number from 0 to 1000")
    for h in a.hidden:
        if not all(w.isdigit() and int(w) > 0 for w in h.split("-")):
            common.fail(f"--hidden {h}: expected positive widths joined by '-', such as 800 or 800-800")
    done = {key(r): r for r in read_rows()}
    for d in a.datasets:
        for h in a.hidden:
            for s in a.seeds:
                k = key({"dataset": d, "hidden": h, "seed": s, "epochs": a.epochs, "batch_size": a.batch_size,
                         "lr": a.lr, "shift": a.shift, "flip": a.flip, "dropout": a.dropout,
                         "weight_decay": a.weight_decay})
                if k in done:
                    r = done[k]
                else:
                    r = train(d, h, s, a.epochs, a.batch_size, a.lr, a.threads, a.shift, a.flip, a.dropout,
                              a.weight_decay)
                    # Into the file as it is now: another call running
                    # meanwhile may have added its runs.
                    rows = read_rows()
                    rows.append(r)
                    common.write_csv(CSV, rows, FIELDS)
                variant = f" shift {a.shift} flip {a.flip}" if a.shift or a.flip else ""
                if a.dropout or a.weight_decay:
                    variant += f" dropout {a.dropout} weight decay {a.weight_decay}"
                print(f"{d} 784-{h}-10{variant} seed {s}: test {100 * float(r['test_accuracy']):.2f}% "
                      f"(epoch {r['best_epoch']} of {r['epochs']})", flush=True)
    print(f"wrote {os.path.relpath(CSV, common.ROOT)}")


if __name__ == "__main__":
    main()
