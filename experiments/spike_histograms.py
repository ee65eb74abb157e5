#!/usr/bin/python3
"""Figure 3: how many times each neuron fires per test image, per layer, for
the shipped models (models/*.bin), and for the hidden layer across the
ratio-fixed time-constant sweep (its seed-1 runs of tau_sweep.py, if present).

    experiments/spike_histograms.py

Counts come from `spiketime eval --json` on the test set (its
spike_count_histogram: (image, neuron) pairs that fired k times). Writes
experiments/results/spike_histograms.csv and spike_histograms.png.
"""
import argparse
import glob
import os

import common

MODELS = os.path.join(common.ROOT, "models")
FIELDS = ["source", "dataset", "tau_m", "tau_s", "layer", "spikes", "pairs", "fraction"]


def dataset_of(name):
    return "fashion-mnist" if name.startswith("fashion-mnist") else "mnist"


def histogram_rows(source, dataset, result, tau_m="", tau_s=""):
    rows = []
    for layer, hist in enumerate(result["spike_count_histogram"]):
        total = sum(hist)
        for k, pairs in enumerate(hist):
            rows.append({"source": source, "dataset": dataset, "tau_m": tau_m, "tau_s": tau_s, "layer": layer,
                         "spikes": k, "pairs": pairs, "fraction": pairs / total})
    return rows


def collect():
    rows = []
    models = sorted(glob.glob(os.path.join(MODELS, "*.bin")))
    if not models:
        common.fail("no models in models/: run experiments/ship_models.py first")
    for path in models:
        name = os.path.basename(path)[:-4]
        rows += histogram_rows(name, dataset_of(name), common.evaluate(path, dataset_of(name)))
    sweep_csv = os.path.join(common.RESULTS, "tau_sweep.csv")
    for r in common.read_csv(sweep_csv):
        if r["sweep"] != "tau_s" or str(r.get("seed", "1")) != "1":
            continue  # the ratio-fixed sweep, its first seed
        model = os.path.join(common.ROOT, r["run"], "model.bin")
        result = common.evaluate(model, r["dataset"])
        rows += histogram_rows(f"sweep-{r['mode']}", r["dataset"], result, r["tau_m"], r["tau_s"])
    return rows


def style_panel(ax, title):
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("spikes per neuron and test image")
    ax.set_ylabel("fraction of (image, neuron) pairs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shipped = sorted({r["source"] for r in rows if not r["source"].startswith("sweep-")})
    datasets = [d for d in ["mnist", "fashion-mnist"] if any(r["dataset"] == d for r in rows)]
    sweeps = sorted({(r["source"], r["dataset"]) for r in rows if r["source"].startswith("sweep-")})
    n_rows = 1 + (1 if sweeps else 0)
    fig, axes = plt.subplots(n_rows, 2 * len(datasets), figsize=(5 * len(datasets) * 2, 3.6 * n_rows),
                             squeeze=False, constrained_layout=True)
    for d, dataset in enumerate(datasets):
        for layer, title in enumerate(["hidden layer", "output layer"]):
            ax = axes[0][2 * d + layer]
            for source in shipped:
                sel = [r for r in rows if r["source"] == source and r["dataset"] == dataset and r["layer"] == layer]
                if not sel:
                    continue
                ks = [r["spikes"] for r in sel]
                ax.plot(ks, [r["fraction"] for r in sel], "-o", markersize=3, label=source)
            style_panel(ax, f"{dataset}, {title}")
    if sweeps:
        for d, dataset in enumerate(datasets):
            for m, mode in enumerate(["sweep-multi", "sweep-single"]):
                ax = axes[1][2 * d + m]
                sel = [r for r in rows if r["source"] == mode and r["dataset"] == dataset and r["layer"] == 0]
                for tau_s in sorted({float(r["tau_s"]) for r in sel}):
                    pts = [r for r in sel if float(r["tau_s"]) == tau_s]
                    ax.plot([r["spikes"] for r in pts], [r["fraction"] for r in pts], "-o", markersize=3,
                            label=f"tau_s {tau_s:g}, tau_m {2 * tau_s:g}")
                style_panel(ax, f"{dataset}, hidden layer, {mode[6:]}-spike sweep")
    common.save_figure(fig, path)


def main():
    common.python_with(["matplotlib"])
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    rows = collect()
    common.write_csv(os.path.join(common.RESULTS, "spike_histograms.csv"), rows, FIELDS)
    plot(rows, os.path.join(common.RESULTS, "spike_histograms.png"))
    print("wrote experiments/results/spike_histograms.csv and spike_histograms.png")


if __name__ == "__main__":
    main()
