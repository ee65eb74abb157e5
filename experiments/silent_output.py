#!/usr/bin/python3
"""Silent outputs: the trainer's two remedies for a true-class output that
stays silent in a sample (config key `silent_output`), `push` (a constant
push per input spike, the remedy before) against `peak` (the gradient of a
virtual spike at the peak of its potential, the default), at the points where
the single-spike network collapsed with `push` (docs/TRAINING.md, "Silent
outputs"), and at two points where it did not.

    experiments/silent_output.py [--seeds 1 2 3] [--train-limit 10000] [--epochs 3]

The tau sweep's settings (experiments/configs/<dataset>-<mode>.json with
tau_m and tau_s set, the first --train-limit training images, --epochs
epochs). Runs live in runs/experiments/silent-<...>/ and are reused when
finished. Writes experiments/results/silent_output.csv (one line per run) and
silent_output.md (the table: test accuracy at the epoch chosen on validation,
and the output spikes per neuron in that epoch).
"""
import argparse
import os
import statistics

import common

CASES = [  # (dataset, mode, tau_m, tau_s)
    ("fashion-mnist", "single", 10.0, 5.0),
    ("fashion-mnist", "single", 20.0, 10.0),
    ("fashion-mnist", "single", 5.0, 5.0),
    ("fashion-mnist", "single", 2.5, 5.0),
    ("mnist", "single", 10.0, 5.0),
    ("fashion-mnist", "multi", 10.0, 5.0),
]
REMEDIES = ["push", "peak"]
FIELDS = ["dataset", "mode", "tau_m", "tau_s", "silent_output", "seed", "best_epoch", "validation_accuracy",
          "test_accuracy", "output_spikes_per_neuron", "run", "command", "commit", "clean"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--train-limit", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=3)
    a = p.parse_args()
    rows = []
    for dataset, mode, tau_m, tau_s in CASES:
        for seed in a.seeds:
            for remedy in REMEDIES:
                name = (f"silent-{dataset}-{mode}-m{common.tag(tau_m)}-s{common.tag(tau_s)}-{remedy}"
                        f"-n{a.train_limit}-e{a.epochs}-seed{seed}")
                s = common.train(name, dataset, config=f"{dataset}-{mode}.json",
                                 settings={"tau_m": tau_m, "tau_s": tau_s, "train_limit": a.train_limit,
                                           "silent_output": remedy, "seed": seed}, epochs=a.epochs)
                b = s["best"]
                rows.append({"dataset": dataset, "mode": mode, "tau_m": tau_m, "tau_s": tau_s,
                             "silent_output": remedy, "seed": seed, "best_epoch": b["epoch"],
                             "validation_accuracy": b["validation_accuracy"], "test_accuracy": b["test_accuracy"],
                             "output_spikes_per_neuron": round(b["spikes_per_neuron"][-1], 3),
                             "run": os.path.relpath(os.path.join(common.RUNS, name), common.ROOT),
                             "command": s["run"]["command"], "commit": s["run"]["commit"],
                             "clean": s["run"]["clean"]})
    common.write_csv(os.path.join(common.RESULTS, "silent_output.csv"), rows, FIELDS)
    lines = ["| data set, mode, tau_m/tau_s | " + " | ".join(f"`{r}`: test % (seeds); output spikes per neuron"
                                                         for r in REMEDIES) + " |",
             "|---|" + "---|" * len(REMEDIES)]
    for dataset, mode, tau_m, tau_s in CASES:
        cells = []
        for remedy in REMEDIES:
            sel = [r for r in rows if (r["dataset"], r["mode"], r["tau_m"], r["tau_s"], r["silent_output"]) ==
                   (dataset, mode, tau_m, tau_s, remedy)]
            test = [100 * r["test_accuracy"] for r in sel]
            spikes = statistics.mean(r["output_spikes_per_neuron"] for r in sel)
            cells.append(f"{statistics.mean(test):.1f} ({', '.join(f'{t:.1f}' for t in test)}); {spikes:.2f}")
        lines.append(f"| {dataset}, {mode}, {tau_m:g}/{tau_s:g} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    common.write_atomic(os.path.join(common.RESULTS, "silent_output.md"), text)
    print(text + "wrote experiments/results/silent_output.csv and silent_output.md")


if __name__ == "__main__":
    main()
