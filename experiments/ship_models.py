#!/usr/bin/python3
"""Copies the best model of each accuracy-table variant into models/: per data
set and variant, the seed with the highest validation accuracy (never the
test accuracy). Each model gets <name>.json beside it (the command that
trained it, the commit, the resolved config, the chosen epoch) and a line in
models/README.md with the figure `spiketime eval --model models/<name>.bin
--dataset D --json` gives.

    experiments/ship_models.py [--variants [multi single]] [--datasets mnist fashion-mnist]
                               [--regularized hidden_dropout=0.2 [--network multi-2layer]]

Run experiments/accuracy_table.py first. Only the variants and data sets
named are shipped again (their runs must be on this machine); the others'
models stay, and their lines in models/README.md are rebuilt from their
.json. --regularized also ships, per data set named, the best seed of that
variant of experiments/regularization.py (its results/regularization.csv) as
<dataset>-multi-spike-784-800-10-<variant>, e.g.
mnist-multi-spike-784-800-10-hidden-dropout-0.2 (with --network multi-2layer,
that variant's run of the two-layer network: <dataset>-multi-spike-784-800-800-10-<variant>).
"""
import argparse
import json
import os
import re
import shutil

import common
import regularization

NAMES = {"multi": "{dataset}-multi-spike-784-800-10", "single": "{dataset}-single-spike-ttfs-784-800-10",
         "multi-2layer": "{dataset}-multi-spike-784-800-800-10"}
MODELS = os.path.join(common.ROOT, "models")


def ship(name, dataset, candidates):
    """Copies the run with the best validation accuracy among candidates
    (CSV rows) to models/<name>.bin and records it in models/<name>.json."""
    best = max(candidates, key=lambda r: (float(r["validation_accuracy"]), -int(r["seed"])))
    target = os.path.join(MODELS, name + ".bin")
    tmp = target + ".tmp"
    shutil.copyfile(os.path.join(common.ROOT, best["run"], "model.bin"), tmp)
    os.replace(tmp, target)
    summary = common.summary(os.path.basename(best["run"]))
    rel = os.path.relpath(target, common.ROOT)
    eval_cmd = f"build/spiketime eval --model {rel} --dataset {dataset} --json"
    result = common.evaluate(target, dataset)
    common.write_atomic(os.path.join(MODELS, name + ".json"), json.dumps({
        "model": rel, "trained_by": summary["run"]["command"], "commit": summary["run"]["commit"],
        "tree_clean": summary["run"]["clean"], "chosen_epoch": summary["best"]["epoch"],
        "validation_accuracy": summary["best"]["validation_accuracy"], "eval_command": eval_cmd,
        "test_accuracy": result["accuracy"], "spikes_per_neuron": result["spikes_per_neuron"],
        "config": summary["config"]}, indent=1) + "\n")
    print(f"{rel}: seed {best['seed']}, test {100 * result['accuracy']:.2f}%")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="*", default=["multi", "single"], choices=["multi", "single"])
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"], choices=["mnist", "fashion-mnist"])
    p.add_argument("--regularized", help="a variant of experiments/regularization.py, as its CSV writes it")
    p.add_argument("--network", default="multi", choices=["multi", "multi-2layer"],
                   help="the network of the --regularized runs (as regularization.py's --network)")
    a = p.parse_args()
    table = os.path.join(common.RESULTS, "accuracy.csv")
    if not os.path.exists(table):
        common.fail(f"{table} not found: run experiments/accuracy_table.py first")
    rows = [r for r in common.read_csv(table) if r["variant"] in NAMES]
    os.makedirs(MODELS, exist_ok=True)
    for (dataset, variant) in sorted({(r["dataset"], r["variant"]) for r in rows}):
        if variant in a.variants and dataset in a.datasets:
            ship(NAMES[variant].format(dataset=dataset), dataset,
                 [r for r in rows if r["dataset"] == dataset and r["variant"] == variant])
    if a.regularized:
        path = os.path.join(common.RESULTS, "regularization.csv")
        # As regularization.py writes its CSV: 'bias_times=[0, 5]' finds bias_times=[0,5].
        a.regularized = regularization.variant_text(regularization.parse_variant(a.regularized, "--regularized"))
        regularized = [r for r in common.read_csv(path)
                       if r["variant"] == a.regularized and r["network"] == a.network]
        for dataset in a.datasets:
            candidates = [r for r in regularized if r["dataset"] == dataset]
            if not candidates:
                common.fail(f"{path} has no run of '{a.regularized}' on {dataset} with --network {a.network}")
            # hidden_dropout=0.2,bias_times=[0,5] -> hidden-dropout-0.2-bias-times-0-5
            suffix = re.sub(r"[^A-Za-z0-9.]+", "-", a.regularized).strip("-")
            ship(NAMES[a.network].format(dataset=dataset) + "-" + suffix, dataset, candidates)
    lines = ["# Shipped models", "",
             "Written by `experiments/ship_models.py` from the runs of `experiments/accuracy_table.py` (and, for",
             "the names with a setting at the end, of `experiments/regularization.py`): per data set and variant,",
             "the seed with the best validation accuracy. Each `.json` beside a model holds the exact command that",
             "trained it, the commit, the resolved config and the chosen epoch. The accuracy column is what the",
             "eval command prints (`accuracy`), on the 10,000 test images.", "",
             "| model | trained by | eval command | test accuracy | spikes per neuron (hidden, output) |",
             "|---|---|---|---|---|"]
    for record in sorted(f for f in os.listdir(MODELS) if f.endswith(".json")):
        with open(os.path.join(MODELS, record)) as f:
            m = json.load(f)
        spikes = ", ".join(f"{x:.2f}" for x in m["spikes_per_neuron"])
        lines.append(f"| `{m['model']}` | `{m['trained_by']}` | `{m['eval_command']}` | "
                     f"{100 * m['test_accuracy']:.2f} % | {spikes} |")
    common.write_atomic(os.path.join(MODELS, "README.md"), "\n".join(lines) + "\n")
    print("wrote models/README.md")


if __name__ == "__main__":
    main()
