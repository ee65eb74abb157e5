#!/usr/bin/python3
"""Regularization runs for the accuracy gap: Table 1's multi-spike network
(experiments/configs/<dataset>-multi.json, the all-spikes readout, 15
epochs) with settings added, against Table 1's own runs of that network.

    experiments/regularization.py --settings hidden_dropout=0.2 [hidden_dropout=0.1,weight_decay=0.01 ...]
                                  [--datasets mnist fashion-mnist] [--seeds 1 2 3] [--network multi-2layer]

--network is Table 1's variant: multi (784-800-10, the default) or
multi-2layer (784-800-800-10, experiments/configs/<dataset>-multi-2layer.json).
Each --settings item is one variant: key=value pairs joined by commas, as
`spiketime train --set` takes them. Runs live in
runs/experiments/reg-<dataset>[-2layer]-<variant>-seed<N>/ and are reused when
finished (resumed when interrupted). Writes, after each run it finishes,
experiments/results/regularization.csv (one line per run, these and earlier
ones: the file is merged, not replaced) and regularization.md (per data set and
variant: mean validation and test accuracy at the epoch chosen on validation,
each seed's test accuracy, training accuracy and hidden spikes per neuron of
that epoch; the first line per data set is Table 1's run of the same network,
and `--settings readout=all_spikes`, which adds nothing, runs that network
again at the current commit: with today's defaults, silent_output=peak among
them).
"""
import argparse
import json
import os
import statistics

import common

FIELDS = ["dataset", "network", "variant", "seed", "best_epoch", "validation_accuracy", "test_accuracy", "train_accuracy",
          "hidden_spikes_per_neuron", "run", "command", "commit", "clean"]
CSV = os.path.join(common.RESULTS, "regularization.csv")


def parse_variant(text, flag="--settings"):
    settings = {}
    pairs, depth, start = [], 0, 0  # split at the commas outside brackets: bias_times=[0,5] is one pair
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if depth < 0:
            break
        if ch == "," and depth == 0:
            pairs.append(text[start:i])
            start = i + 1
    if depth != 0:
        common.fail(f"{flag} '{text}': unbalanced brackets")
    pairs.append(text[start:])
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            common.fail(f"{flag} '{text}': expected key=value[,key=value...]")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def variant_name(settings):
    """The settings as a run directory's name: hidden_dropout=0.2 -> hiddendropout0p2, bias_times=[0,5] -> biastimes0_5."""
    def value(v):
        if isinstance(v, list):
            return "_".join(value(x) for x in v)
        return common.tag(v) if isinstance(v, (int, float)) else str(v)
    return "-".join(f"{k.replace('_', '')}{value(v)}" for k, v in settings.items())


def variant_text(settings):
    """The settings as the CSV's variant column writes them, and --settings and
    ship_models.py --regularized take them: hidden_dropout=0.2,bias_times=[0,5]."""
    return ",".join(f"{k}={json.dumps(v, separators=(',', ':')) if isinstance(v, list) else v}"
                    for k, v in settings.items())


def table1_rows(dataset, network):
    """Table 1's runs of the same network (experiments/results/accuracy.csv)."""
    return [r for r in common.read_csv(os.path.join(common.RESULTS, "accuracy.csv"))
            if r["dataset"] == dataset and r["variant"] == network and r["readout"] == "all_spikes"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--settings", nargs="+", required=True)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"], choices=["mnist", "fashion-mnist"])
    p.add_argument("--seeds", nargs="+", type=int, default=[1])
    p.add_argument("--network", default="multi", choices=["multi", "multi-2layer"])
    a = p.parse_args()
    variants = [parse_variant(t) for t in a.settings]

    mine = {}  # this call's runs
    text = ""
    for dataset in a.datasets:
        for settings in variants:
            for seed in a.seeds:
                layers = "-2layer" if a.network == "multi-2layer" else ""
                name = f"reg-{dataset}{layers}-{variant_name(settings)}-seed{seed}"
                s = common.train(name, dataset, config=f"{dataset}-{a.network}.json",
                                 settings={"readout": "all_spikes", **settings, "seed": seed})
                b = s["best"]
                run = os.path.relpath(os.path.join(common.RUNS, name), common.ROOT)
                mine[run] = {"dataset": dataset, "network": a.network, "variant": variant_text(settings),
                             "seed": seed, "best_epoch": b["epoch"],
                             "validation_accuracy": b["validation_accuracy"], "test_accuracy": b["test_accuracy"],
                             "train_accuracy": b["train_accuracy"],
                             "hidden_spikes_per_neuron": round(b["spikes_per_neuron"][0], 3), "run": run,
                             "command": s["run"]["command"], "commit": s["run"]["commit"],
                             "clean": s["run"]["clean"]}
                # Each finished run goes into the results at once: a sweep
                # stopped halfway (a session's end) keeps what it finished.
                text = record(mine)
    print(text + "wrote experiments/results/regularization.csv and regularization.md")


def record(mine):
    """Merges this call's finished runs (mine: CSV rows by run) into
    results/regularization.csv and rewrites regularization.md from it."""
    # The file as it is now, not as it was when this call began: another
    # call running meanwhile (a second screen) may have added its runs.
    rows = {r["run"]: r for r in common.read_csv(CSV)}
    rows.update(mine)
    for r in rows.values():
        r.setdefault("network", "multi")
    ordered = sorted(rows.values(), key=lambda r: (r["dataset"], r["network"], r["variant"], int(r["seed"])))
    common.write_csv(CSV, ordered, FIELDS)

    lines = ["| data set | network | variant | validation % (mean) | test % (mean; seeds) | train % | hidden spikes per neuron |",
             "|---|---|---|---|---|---|---|"]
    for dataset, network in sorted({(r["dataset"], r["network"]) for r in ordered}):
        groups = [("Table 1 (no regularization)", table1_rows(dataset, network))]
        runs = [r for r in ordered if (r["dataset"], r["network"]) == (dataset, network)]
        for variant in sorted({r["variant"] for r in runs}):
            # readout=all_spikes alone is Table 1's network again, at this script's commit
            label = "Table 1's settings again (this commit)" if variant == "readout=all_spikes" else f"`{variant}`"
            groups.append((label, [r for r in runs if r["variant"] == variant]))
        shape = "784-800-800-10" if network == "multi-2layer" else "784-800-10"
        for label, sel in groups:
            if not sel:
                continue
            val = [100 * float(r["validation_accuracy"]) for r in sel]
            test = [100 * float(r["test_accuracy"]) for r in sel]
            train = [100 * float(r["train_accuracy"]) for r in sel]
            key = "hidden_spikes_per_neuron" if "hidden_spikes_per_neuron" in sel[0] else "spikes_per_neuron"
            spikes = [float(str(r[key]).split()[0]) for r in sel]
            lines.append(f"| {dataset} | {shape} | {label} | {statistics.mean(val):.2f} | {statistics.mean(test):.2f} "
                         f"({', '.join(f'{t:.2f}' for t in test)}) | {statistics.mean(train):.2f} | "
                         f"{statistics.mean(spikes):.2f} |")
    text = "\n".join(lines) + "\n"
    common.write_atomic(os.path.join(common.RESULTS, "regularization.md"), text)
    return text


if __name__ == "__main__":
    main()
