#!/usr/bin/python3
"""Figure 2: test accuracy and spikes per hidden neuron against the time
constants, multi-spike and single-spike, on MNIST and Fashion-MNIST.

    experiments/tau_sweep.py [--datasets mnist fashion-mnist] [--train-limit 10000] [--epochs 3]

Two sweeps through the library default (tau_m 10, tau_s 5): tau_s with tau_m = 2 tau_s
(the ratio fixed), and tau_m with tau_s = 5 fixed. Everything else is the
data set's experiments/configs/<dataset>-<mode>.json, so these are shorter
runs than the accuracy table's (the first --train-limit training images,
--epochs epochs, seed 1); the accuracy is the test accuracy at the epoch
chosen on validation and the spike counts are measured on the test set with
`spiketime eval`. Writes experiments/results/tau_sweep.csv and tau_sweep.png.
"""
import argparse
import os

import common

TAU_S = [1.25, 2.5, 5.0, 10.0, 20.0, 40.0]  # with tau_m = 2 tau_s
TAU_M = [2.5, 5.0, 10.0, 20.0, 40.0, 80.0]  # with tau_s = 5
MODES = {"multi": "multi-spike", "single": "single-spike (TTFS)"}
FIELDS = ["dataset", "mode", "sweep", "tau_m", "tau_s", "best_epoch", "validation_accuracy", "test_accuracy",
          "hidden_spikes_per_neuron", "output_spikes_per_neuron", "hidden_silent_fraction", "run", "command",
          "commit", "clean"]


def points():
    for tau_s in TAU_S:
        yield "tau_s", 2 * tau_s, tau_s
    for tau_m in TAU_M:
        yield "tau_m", tau_m, 5.0


def tag(x):
    return f"{x:g}".replace(".", "p")


def run_all(datasets, train_limit, epochs):
    rows = []
    for dataset in datasets:
        for mode in MODES:
            for sweep, tau_m, tau_s in points():
                name = f"sweep-{dataset}-{mode}-m{tag(tau_m)}-s{tag(tau_s)}-n{train_limit}-e{epochs}"
                s = common.train(name, dataset, config=f"{dataset}-{mode}.json",
                                 settings={"tau_m": tau_m, "tau_s": tau_s, "train_limit": train_limit}, epochs=epochs)
                test = common.evaluate(s["model"], dataset)
                rows.append({"dataset": dataset, "mode": mode, "sweep": sweep, "tau_m": tau_m, "tau_s": tau_s,
                             "best_epoch": s["best"]["epoch"],
                             "validation_accuracy": s["best"]["validation_accuracy"],
                             "test_accuracy": test["accuracy"],
                             "hidden_spikes_per_neuron": test["spikes_per_neuron"][0],
                             "output_spikes_per_neuron": test["spikes_per_neuron"][-1],
                             "hidden_silent_fraction": test["silent_fraction"][0],
                             "run": os.path.relpath(os.path.join(common.RUNS, name), common.ROOT),
                             "command": s["run"]["command"], "commit": s["run"]["commit"],
                             "clean": s["run"]["clean"]})
    return rows


def plot(rows, datasets, train_limit, epochs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2 * len(datasets), 2, figsize=(10, 4.6 * len(datasets)), sharex="col", squeeze=False,
                             constrained_layout=True)
    for d, dataset in enumerate(datasets):
        for col, (sweep, xlabel) in enumerate([("tau_s", "tau_s (tau_m = 2 tau_s)"),
                                                ("tau_m", "tau_m (tau_s = 5)")]):
            acc_ax, spk_ax = axes[2 * d][col], axes[2 * d + 1][col]
            for mode, label in MODES.items():
                sel = sorted((r for r in rows if r["dataset"] == dataset and r["mode"] == mode and r["sweep"] == sweep),
                             key=lambda r: r[sweep])
                xs = [r[sweep] for r in sel]
                style = "-o" if mode == "multi" else "--s"
                acc_ax.plot(xs, [100 * r["test_accuracy"] for r in sel], style, label=label)
                spk_ax.plot(xs, [r["hidden_spikes_per_neuron"] for r in sel], style, label=label)
                if sel:
                    best = max(sel, key=lambda r: r["test_accuracy"])
                    acc_ax.plot([best[sweep]], [100 * best["test_accuracy"]], "*", color="black", markersize=12)
            acc_ax.set_title(f"{dataset}: {xlabel}")
            acc_ax.set_ylabel("test accuracy (%)")
            spk_ax.set_ylabel("spikes per hidden neuron")
            spk_ax.set_xlabel(xlabel)
            ticks = TAU_S if sweep == "tau_s" else TAU_M
            for ax in (acc_ax, spk_ax):
                ax.set_xscale("log", base=2)
                ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
                ax.minorticks_off()
                ax.grid(alpha=0.3)
            acc_ax.legend(fontsize=8)
    plural = "s" if epochs > 1 else ""
    fig.suptitle(f"784-800-10, {train_limit} training images, {epochs} epoch{plural}, seed 1 (star: best)")
    common.save_figure(fig, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"], choices=["mnist", "fashion-mnist"])
    p.add_argument("--train-limit", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=3)
    a = p.parse_args()
    rows = run_all(a.datasets, a.train_limit, a.epochs)
    common.write_csv(os.path.join(common.RESULTS, "tau_sweep.csv"), rows, FIELDS)
    plot(rows, a.datasets, a.train_limit, a.epochs, os.path.join(common.RESULTS, "tau_sweep.png"))
    for r in rows:
        print(f"{r['dataset']:14s} {r['mode']:6s} tau_m {r['tau_m']:5g} tau_s {r['tau_s']:5g}: "
              f"test {100 * r['test_accuracy']:.2f}%, {r['hidden_spikes_per_neuron']:.2f} spikes per hidden neuron")
    print("wrote experiments/results/tau_sweep.csv and tau_sweep.png")


if __name__ == "__main__":
    main()
