#!/usr/bin/python3
"""Figure 2: test accuracy and spikes per hidden neuron against the time
constants, multi-spike and single-spike, on MNIST and Fashion-MNIST.

    experiments/tau_sweep.py [--datasets mnist fashion-mnist] [--seeds 1 2 3] [--train-limit 10000] [--epochs 3]

Two sweeps through the library default (tau_m 10, tau_s 5): tau_s with tau_m = 2 tau_s
(the ratio fixed), and tau_m with tau_s = 5 fixed. Everything else is the
data set's experiments/configs/<dataset>-<mode>.json, so these are shorter
runs than the accuracy table's (the first --train-limit training images,
--epochs epochs, each seed of --seeds); the accuracy is the test accuracy at
the epoch chosen on validation and the spike counts are measured on the test
set with `spiketime eval`. The figure shows the mean over seeds with one
standard deviation either side; the best point of each curve is chosen on
mean validation accuracy. Writes experiments/results/tau_sweep.csv (one line
per run), tau_sweep.md (per curve: each point's mean and spread, the best
point, and how many seeds pick the same point on their own) and
tau_sweep.png.
"""
import argparse
import math
import os
import statistics

import common

TAU_S = [1.25, 2.5, 5.0, 10.0, 20.0, 40.0]  # with tau_m = 2 tau_s
TAU_M = [1.25, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0]  # with tau_s = 5
MODES = {"multi": "multi-spike", "single": "single-spike (TTFS)"}
FIELDS = ["dataset", "mode", "sweep", "tau_m", "tau_s", "seed", "best_epoch", "validation_accuracy",
          "validation_by_epoch", "test_accuracy",
          "hidden_spikes_per_neuron", "output_spikes_per_neuron", "hidden_silent_fraction", "run", "command",
          "commit", "clean"]


def points():
    for tau_s in TAU_S:
        yield "tau_s", 2 * tau_s, tau_s
    for tau_m in TAU_M:
        yield "tau_m", tau_m, 5.0


def run_all(datasets, seeds, train_limit, epochs):
    rows = []
    for seed in seeds:  # seed-major: a first pass over every point before the others
        for dataset in datasets:
            for mode in MODES:
                rows += [run_point(dataset, mode, sweep, tau_m, tau_s, seed, train_limit, epochs)
                         for sweep, tau_m, tau_s in points()]
    return rows


def run_point(dataset, mode, sweep, tau_m, tau_s, seed, train_limit, epochs):
    name = f"sweep-{dataset}-{mode}-m{common.tag(tau_m)}-s{common.tag(tau_s)}-n{train_limit}-e{epochs}-seed{seed}"
    s = common.train(name, dataset, config=f"{dataset}-{mode}.json",
                     settings={"tau_m": tau_m, "tau_s": tau_s, "train_limit": train_limit, "seed": seed},
                     epochs=epochs)
    test = common.evaluate(s["model"], dataset)
    return {"dataset": dataset, "mode": mode, "sweep": sweep, "tau_m": tau_m, "tau_s": tau_s, "seed": seed,
            "best_epoch": s["best"]["epoch"], "validation_accuracy": s["best"]["validation_accuracy"],
            "validation_by_epoch": " ".join(str(e["validation_accuracy"]) for e in s["epochs"]),
            "test_accuracy": test["accuracy"], "hidden_spikes_per_neuron": test["spikes_per_neuron"][0],
            "output_spikes_per_neuron": test["spikes_per_neuron"][-1],
            "hidden_silent_fraction": test["silent_fraction"][0],
            "run": os.path.relpath(os.path.join(common.RUNS, name), common.ROOT),
            "command": s["run"]["command"], "commit": s["run"]["commit"], "clean": s["run"]["clean"]}


def curves(rows, datasets):
    """Per (dataset, mode, sweep): the points in order, each with its runs."""
    for dataset in datasets:
        for mode in MODES:
            for sweep in ("tau_s", "tau_m"):
                sel = [r for r in rows if (r["dataset"], r["mode"], r["sweep"]) == (dataset, mode, sweep)]
                xs = sorted({r[sweep] for r in sel})
                yield dataset, mode, sweep, [(x, [r for r in sel if r[sweep] == x]) for x in xs]


def mean_std(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    for rank, i in enumerate(order):
        r[i] = float(rank)
    return r


def spearman(a, b):
    """Rank correlation of two lists of the same points (no ties expected)."""
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    return 1.0 - 6.0 * sum((x - y) ** 2 for x, y in zip(ra, rb)) / (n * (n * n - 1)) if n > 1 else 1.0


def settled(points_):
    """How settled the ranking of a curve's points is at the runs' length:
    the rank correlation of the points' mean validation accuracy after the
    last epoch and after the one before, and whether the best point is the
    same after both."""
    def at(epoch_from_end):
        return [statistics.mean(float(r["validation_by_epoch"].split()[-epoch_from_end]) for r in runs)
                for _, runs in points_]
    last, before = at(1), at(2)
    same_best = max(range(len(last)), key=last.__getitem__) == max(range(len(before)), key=before.__getitem__)
    return spearman(last, before), same_best


def optimum(points_):
    """Whether a curve has an interior optimum: its best point on mean
    validation accuracy is not an end of the sweep, and each end is below
    it by more than two standard errors of the difference of the means
    (validation accuracy over the seeds). Returns the verdict in words."""
    val = [[100 * r["validation_accuracy"] for r in runs] for _, runs in points_]
    means = [statistics.mean(v) for v in val]
    k = max(range(len(means)), key=means.__getitem__)
    if k in (0, len(means) - 1):
        return "no: best at the end"
    margins = []
    for end in (0, len(means) - 1):
        se = math.sqrt(sum(mean_std(v)[1] ** 2 / len(v) for v in (val[k], val[end])))
        margins.append((means[k] - means[end]) / se if se > 0 else math.inf)
    low = min(margins)
    return f"yes ({low:.1f} SE)" if low > 2 else f"not resolved ({low:.1f} SE)"


def summary_table(rows, datasets):
    """Markdown: per curve, each point's test accuracy (mean ± std), the best
    point on mean validation accuracy, the seeds whose own best point on
    validation is the same one, whether the optimum is interior (optimum()),
    and how settled the ranking is (settled())."""
    lines = ["| data set | mode | sweep | test accuracy per point, mean ± std (%) | best on validation | seeds agreeing "
             "| interior optimum (the smaller margin to an end) | rank correlation, last two epochs; same best |",
             "|---|---|---|---|---|---|---|---|"]
    for dataset, mode, sweep, points_ in curves(rows, datasets):
        if not points_:
            continue
        cells = []
        for x, runs in points_:
            m, s = mean_std([100 * r["test_accuracy"] for r in runs])
            cells.append(f"{x:g}: {m:.2f} ± {s:.2f}")
        best = max(points_, key=lambda p: statistics.mean(r["validation_accuracy"] for r in p[1]))[0]
        seeds = sorted({r["seed"] for _, runs in points_ for r in runs})
        agree = 0
        for seed in seeds:
            own = max(((x, r) for x, runs in points_ for r in runs if r["seed"] == seed),
                      key=lambda xr: xr[1]["validation_accuracy"])[0]
            agree += own == best
        rho, same_best = settled(points_)
        lines.append(f"| {dataset} | {mode} | {sweep} | {'; '.join(cells)} | {best:g} | {agree} of {len(seeds)} "
                     f"| {optimum(points_)} | {rho:.2f}; {'yes' if same_best else 'no'} |")
    return "\n".join(lines) + "\n"


def plot(rows, datasets, seeds, train_limit, epochs, path):
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
                points_ = next(c[3] for c in curves(rows, [dataset]) if c[1] == mode and c[2] == sweep)
                xs = [x for x, _ in points_]
                acc = [mean_std([100 * r["test_accuracy"] for r in runs]) for _, runs in points_]
                spk = [mean_std([r["hidden_spikes_per_neuron"] for r in runs]) for _, runs in points_]
                style = "-o" if mode == "multi" else "--s"
                acc_ax.errorbar(xs, [m for m, _ in acc], yerr=[s for _, s in acc], fmt=style, capsize=3, label=label)
                spk_ax.errorbar(xs, [m for m, _ in spk], yerr=[s for _, s in spk], fmt=style, capsize=3, label=label)
                if points_:
                    k = max(range(len(points_)),
                            key=lambda i: statistics.mean(r["validation_accuracy"] for r in points_[i][1]))
                    acc_ax.plot([xs[k]], [acc[k][0]], "*", color="black", markersize=12)
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
    fig.suptitle(f"784-800-10, {train_limit} training images, {epochs} epoch{plural}, mean ± std over "
                 f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} (star: best on validation)")
    common.save_figure(fig, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"], choices=["mnist", "fashion-mnist"])
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--train-limit", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=3)
    common.python_with(["matplotlib"])  # for the figure: before the runs
    a = p.parse_args()
    rows = run_all(a.datasets, a.seeds, a.train_limit, a.epochs)
    common.write_csv(os.path.join(common.RESULTS, "tau_sweep.csv"), rows, FIELDS)
    plot(rows, a.datasets, a.seeds, a.train_limit, a.epochs, os.path.join(common.RESULTS, "tau_sweep.png"))
    text = summary_table(rows, a.datasets)
    common.write_atomic(os.path.join(common.RESULTS, "tau_sweep.md"), text)
    print(text + "wrote experiments/results/tau_sweep.csv, tau_sweep.md and tau_sweep.png")


if __name__ == "__main__":
    main()
