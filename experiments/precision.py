#!/usr/bin/python3
"""float32 against float64 training (config key `precision`): the main job's
config (`spiketime train --dataset mnist --epochs 10`, 784-800-10) with 3
seeds in each precision, the epoch chosen on validation.

    experiments/precision.py [--seeds 1 2 3] [--epochs 10]

Runs live in runs/experiments/precision-<p>-seed<s>/ and are reused when
finished (an interrupted one is resumed). Writes
experiments/results/precision.csv (with each run's mean seconds per epoch,
which depend on what else the machine ran: bench/snn_vs_ann measures the
speed) and precision.md (the table).
"""
import argparse
import os
import statistics

import common

FIELDS = ["precision", "seed", "epochs", "best_epoch", "validation_accuracy", "test_accuracy", "train_accuracy",
          "seconds_per_epoch", "simd_target", "run", "command", "commit", "clean"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--epochs", type=int, default=10)
    a = p.parse_args()
    rows = []
    for seed in a.seeds:
        for precision in ["float64", "float32"]:
            name = f"precision-{precision}-seed{seed}"
            s = common.train(name, "mnist", settings={"precision": precision, "seed": seed}, epochs=a.epochs)
            b = s["best"]
            rows.append({"precision": precision, "seed": seed, "epochs": len(s["epochs"]), "best_epoch": b["epoch"],
                         "validation_accuracy": b["validation_accuracy"], "test_accuracy": b["test_accuracy"],
                         "train_accuracy": b["train_accuracy"],
                         "seconds_per_epoch": round(statistics.mean(e["seconds"] for e in s["epochs"]), 2),
                         "simd_target": b.get("simd_target", ""),
                         "run": os.path.relpath(os.path.join(common.RUNS, name), common.ROOT),
                         "command": s["run"]["command"], "commit": s["run"]["commit"], "clean": s["run"]["clean"]})
    common.write_csv(os.path.join(common.RESULTS, "precision.csv"), rows, FIELDS)
    lines = ["| precision | test accuracy, mean ± std (seeds) | validation accuracy |", "|---|---|---|"]
    for precision in ["float64", "float32"]:
        sel = [r for r in rows if r["precision"] == precision]
        test = [100 * r["test_accuracy"] for r in sel]
        val = [100 * r["validation_accuracy"] for r in sel]
        spread = f" ± {statistics.stdev(test):.2f}" if len(test) > 1 else ""
        lines.append(f"| {precision} | {statistics.mean(test):.2f}{spread} % ({', '.join(f'{t:.2f}' for t in test)}) "
                     f"| {statistics.mean(val):.2f} % |")
    text = "\n".join(lines) + "\n"
    common.write_atomic(os.path.join(common.RESULTS, "precision.md"), text)
    print(text + "wrote experiments/results/precision.csv and precision.md")


if __name__ == "__main__":
    main()
