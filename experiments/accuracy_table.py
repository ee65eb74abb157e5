#!/usr/bin/python3
"""Table 1: test accuracy of the 784-800-10 network, multi-spike against
single-spike (max_spikes = 1, first-spike readout), on MNIST and
Fashion-MNIST, over seeds, the epoch chosen on validation; with the
two-hidden-layer multi-spike network and the ANN of the same size.

    experiments/accuracy_table.py [--datasets mnist fashion-mnist] [--seeds 1 2 3] [--variants multi single multi-2layer]
                                  [--skip-ann] [--snn-from-csv]

Each SNN run uses experiments/configs/<dataset>-<variant>.json and lands in
runs/experiments/<dataset>-<variant>[-<readout>]-seed<N>/ (finished runs are
reused, interrupted ones resumed). The multi-spike network's readout is
chosen on validation: both readouts are trained with the first seed, and the
better one on validation is used for the other seeds and the two-layer net.
A variant without a config file for a data set is skipped (the two-layer
network has one for MNIST only: one such run takes 14 minutes there). Writes experiments/results/accuracy.csv (one line
per run) and accuracy.md (the table), and the ANN rows through
ann_baseline.py (experiments/results/ann.csv). --snn-from-csv takes the SNN
rows from the committed experiments/results/accuracy.csv instead of the run
directories (a machine without them: the table again, after new ANN runs).
--variants runs only the variants named and takes the others' rows from the
committed accuracy.csv (the single-spike rows again, after a trainer change
that only they feel).
"""
import argparse
import os
import statistics
import subprocess
import sys

import common

VARIANTS = [  # (variant, label, seeds): the two-layer network is run on the first seed only
    ("multi", "SNN 784-800-10, multi-spike", None),
    ("single", "SNN 784-800-10, single-spike (TTFS)", None),
    ("multi-2layer", "SNN 784-800-800-10, multi-spike", 1),
]
READOUTS = ["first_spike", "all_spikes"]
FIELDS = ["dataset", "variant", "seed", "best_epoch", "epochs", "validation_accuracy", "test_accuracy",
          "train_accuracy", "spikes_per_neuron", "readout", "max_spikes", "run", "command", "commit", "clean"]


def snn_run(dataset, variant, seed, readout=None):
    name = f"{dataset}-{variant}{'-' + readout.replace('_', '-') if readout else ''}-seed{seed}"
    settings = {"seed": seed, **({"readout": readout} if readout else {})}
    return common.train(name, dataset, config=f"{dataset}-{variant}.json", settings=settings)


def snn_rows(datasets, seeds, variants):
    rows = []
    for dataset in datasets:
        readout = None
        if any(v.startswith("multi") for v in variants):
            trials = {r: snn_run(dataset, "multi", seeds[0], r) for r in READOUTS}
            readout = max(READOUTS, key=lambda r: trials[r]["best"]["validation_accuracy"])
            print(f"{dataset}: multi-spike readout chosen on validation: {readout} ("
                  + ", ".join(f"{r} {100 * t['best']['validation_accuracy']:.2f}%" for r, t in trials.items()) + ")")
        for variant, label, n_seeds in VARIANTS:
            if variant not in variants:
                continue
            if not os.path.exists(os.path.join(common.ROOT, "experiments", "configs", f"{dataset}-{variant}.json")):
                print(f"{dataset}: no config for {variant}, skipped")
                continue
            for seed in seeds[:n_seeds]:
                s = snn_run(dataset, variant, seed, readout if variant.startswith("multi") else None)
                b, c = s["best"], s["config"]
                if variant.startswith("multi"):
                    label_used = f"{label}, {readout.replace('_', '-')} readout"
                else:
                    label_used = label
                rows.append({"dataset": dataset, "variant": variant, "label": label_used, "seed": seed,
                             "best_epoch": b["epoch"], "epochs": c["epochs"],
                             "validation_accuracy": b["validation_accuracy"], "test_accuracy": b["test_accuracy"],
                             "train_accuracy": b["train_accuracy"],
                             "spikes_per_neuron": " ".join(f"{x:.3f}" for x in b["spikes_per_neuron"]),
                             "readout": c["readout"], "max_spikes": " ".join(map(str, c["max_spikes"])),
                             "run": os.path.relpath(os.path.join(common.RUNS, s["name"]), common.ROOT),
                             "command": s["run"]["command"], "commit": s["run"]["commit"],
                             "clean": s["run"]["clean"]})
    return rows


def ann_rows(datasets, seeds, skip):
    """The ANN rows of both shapes, trained to convergence (ann_baseline.py's
    defaults: 30 epochs, no augmentation, no dropout or weight decay); of
    several lengths in ann.csv, the longest."""
    path = os.path.join(common.RESULTS, "ann.csv")
    if not skip:
        cmd = [sys.executable, os.path.join(common.ROOT, "experiments", "ann_baseline.py"), "--datasets", *datasets,
               "--seeds", *map(str, seeds)]
        if subprocess.run(cmd).returncode != 0:
            common.fail("the ANN baseline failed")
    rows = [dict(r, hidden=r.get("hidden") or "800") for r in common.read_csv(path)
            if r["dataset"] in datasets and int(r["seed"]) in seeds
            and not any(float(r.get(k) or 0) for k in ("shift", "flip", "dropout", "weight_decay"))]
    # (augmented or regularized: not Table 1's rows)
    longest = {}
    for r in rows:
        key = (r["dataset"], r["hidden"])
        longest[key] = max(longest.get(key, 0), int(r["epochs"]))
    return [dict(r, variant="ann", label=f"ANN 784-{r['hidden']}-10 (ReLU, float32, {r['epochs']} epochs)")
            for r in rows if int(r["epochs"]) == longest[(r["dataset"], r["hidden"])]]


def mean_std(values):
    values = [100 * float(v) for v in values]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def table(rows, datasets):
    lines = ["| network | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
    labels = []
    for r in rows:
        if r["label"] not in labels:
            labels.append(r["label"])
    for label in labels:
        cells = []
        for d in datasets:
            sel = [r for r in rows if r["label"] == label and r["dataset"] == d]
            if not sel:
                cells.append("")
                continue
            spikes = ""
            if "spikes_per_neuron" in sel[0]:
                hidden = [float(r["spikes_per_neuron"].split()[0]) for r in sel]
                spikes = f"; {statistics.mean(hidden):.2f} spikes per (first) hidden neuron"
            per_seed = ", ".join(f"{100 * float(r['test_accuracy']):.2f}" for r in sel)
            cells.append(f"{mean_std([r['test_accuracy'] for r in sel])} % (seeds: {per_seed}){spikes}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"], choices=["mnist", "fashion-mnist"])
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--skip-ann", action="store_true", help="use experiments/results/ann.csv as it is")
    p.add_argument("--snn-from-csv", action="store_true", help="the SNN rows from experiments/results/accuracy.csv")
    p.add_argument("--variants", nargs="+", default=[v for v, _, _ in VARIANTS], choices=[v for v, _, _ in VARIANTS])
    a = p.parse_args()
    committed = []
    if a.snn_from_csv or len(a.variants) < len(VARIANTS):
        labels = {variant: label for variant, label, _ in VARIANTS}
        committed = common.read_csv(os.path.join(common.RESULTS, "accuracy.csv"))
        for r in committed:
            readout = f", {r['readout'].replace('_', '-')} readout" if r["variant"].startswith("multi") else ""
            r["label"] = labels[r["variant"]] + readout
    if a.snn_from_csv:
        rows = [r for r in committed if r["dataset"] in a.datasets and int(r["seed"]) in a.seeds]
    else:
        new = snn_rows(a.datasets, a.seeds, a.variants)
        # The variants not run now keep their committed rows, in the order of VARIANTS.
        kept = [r for r in committed if (r["dataset"], r["variant"]) not in {(n["dataset"], n["variant"]) for n in new}]
        order = {v: k for k, (v, _, _) in enumerate(VARIANTS)}
        everything = sorted(kept + new, key=lambda r: ((["mnist", "fashion-mnist"].index(r["dataset"])),
                                                       order[r["variant"]], int(r["seed"])))
        common.write_csv(os.path.join(common.RESULTS, "accuracy.csv"), everything, FIELDS)
        rows = [r for r in everything if r["dataset"] in a.datasets and int(r["seed"]) in a.seeds]
    rows += ann_rows(a.datasets, a.seeds, a.skip_ann)
    text = table(rows, a.datasets)
    common.write_atomic(os.path.join(common.RESULTS, "accuracy.md"), text)
    print(text + "wrote experiments/results/accuracy.csv and accuracy.md")


if __name__ == "__main__":
    main()
