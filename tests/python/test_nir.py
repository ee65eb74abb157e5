"""NIR files against the NIR reference implementation (docs/NIR.md): every
export reads back with nir.read and holds what the mapping says; a file
written by nir.write imports as the mapping says; and the exported network,
integrated with NIR's own equations by a fine-step method, spikes when
`spiketime simulate` says it does."""
import json
import math

import numpy as np
import pytest

from conftest import SOURCE_DIR, read_model, run_cli

MODELS = sorted((SOURCE_DIR / "models").glob("*.bin"))
CHAIN_TYPES = ["Input", "Linear", "CubaLIF"]


def chain(graph):
    """Node names from the Input node to the Output node, along the edges."""
    following = dict(graph.edges)
    assert len(following) == len(graph.edges), "one edge out of each node"
    (name,) = [k for k, node in graph.nodes.items() if type(node).__name__ == "Input"]
    names = [name]
    while name in following:
        name = following[name]
        names.append(name)
    assert len(names) == len(graph.nodes)
    return names


@pytest.mark.parametrize("model", MODELS, ids=[m.stem for m in MODELS])
def test_every_shipped_model_exports_to_what_the_mapping_says(nir, model, tmp_path):
    assert len(MODELS) >= 4
    out = tmp_path / "model.nir"
    run_cli("export-nir", "--model", model, "--out", out)
    graph = nir.read(out)  # type-checks the graph too
    header, weights = read_model(model)
    names = chain(graph)
    types = [type(graph.nodes[n]).__name__ for n in names]
    assert types == ["Input"] + ["Linear", "CubaLIF"] * len(weights) + ["Output"]
    unit = 1e-3
    assert graph.metadata["time_unit"] == unit
    assert list(graph.nodes[names[0]].input_type["input"]) == [weights[0].shape[1]]
    assert list(graph.nodes[names[-1]].output_type["output"]) == [header["classes"]]
    for l, layer in enumerate(header["layers"]):
        linear, lif = graph.nodes[names[1 + 2 * l]], graph.nodes[names[2 + 2 * l]]
        assert linear.weight.shape == (layer["neurons"], layer["inputs"])
        assert np.array_equal(linear.weight, weights[l])
        n = layer["neurons"]
        expect = {
            "tau_mem": layer["tau_m"] * unit,
            "tau_syn": layer["tau_s"] * unit,
            "r": 1.0,
            "v_leak": 0.0,
            "v_threshold": layer["theta"],
            "v_reset": 0.0,
            "w_in": layer["tau_s"] * unit,
        }
        for field, value in expect.items():
            array = getattr(lif, field)
            assert array.shape == (n,), field
            assert np.all(array == value), field
        assert lif.metadata["max_spikes"] == layer["max_spikes"]
    meta = graph.metadata
    assert meta["t_end"] == header["t_end"] * unit
    assert meta["t_in_max"] == header["encoding"]["t_in_max"] * unit
    assert meta["readout"] == header["readout"]["kind"]
    assert meta["tau_out"] == header["readout"]["tau_out"] * unit
    assert meta["features"] == header["features"] and meta["classes"] == header["classes"]
    assert meta["dataset"] == header["dataset"] and meta["encoding"] == "latency"
    assert json.loads(meta["provenance"]) == header["provenance"]


def cubalif(nir, n, tau_mem, tau_syn, r=None, w_in=None, dtype=np.float64):
    return nir.CubaLIF(
        tau_mem=np.full(n, tau_mem, dtype),
        tau_syn=np.full(n, tau_syn, dtype),
        r=np.ones(n, dtype) if r is None else r,
        v_leak=np.zeros(n, dtype),
        v_threshold=np.ones(n, dtype),
        v_reset=np.zeros(n, dtype),
        w_in=np.full(n, tau_syn, dtype) if w_in is None else w_in,
    )


def reference_graph(nir, weights, lifs, metadata):
    nodes = {"input": nir.Input(np.array([weights[0].shape[1]]))}
    edges, last = [], "input"
    for l, (w, lif) in enumerate(zip(weights, lifs)):
        nodes[f"fc{l}"], nodes[f"lif{l}"] = nir.Linear(w), lif
        edges += [(last, f"fc{l}"), (f"fc{l}", f"lif{l}")]
        last = f"lif{l}"
    nodes["output"] = nir.Output(np.array([weights[-1].shape[0]]))
    edges.append((last, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def test_a_file_written_by_the_reference_imports_as_the_mapping_says(nir, tmp_path):
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(7, 5))
    w1 = rng.normal(size=(3, 7)).astype(np.float32)  # another framework's float32 weights
    r = rng.uniform(0.5, 2.0, size=3)
    w_in = rng.uniform(0.5, 2.0, size=3)
    lifs = [cubalif(nir, 7, 0.012, 0.004), cubalif(nir, 3, 0.02, 0.01, r=r, w_in=w_in)]
    # No spiketime metadata: gzip-compressed datasets as nir.write makes them.
    nir.write(tmp_path / "ref.nir", reference_graph(nir, [w0, w1], lifs, {}))
    missing = run_cli("import-nir", "--in", tmp_path / "ref.nir", "--out", tmp_path / "m.bin", check=False)
    assert missing.returncode == 2 and "--t-end" in missing.stderr and not (tmp_path / "m.bin").exists()
    run_cli("import-nir", "--in", tmp_path / "ref.nir", "--out", tmp_path / "m.bin", "--t-end", 60, "--t-in-max", 15)
    header, weights = read_model(tmp_path / "m.bin")
    assert header["t_end"] == 60 and header["encoding"]["t_in_max"] == 15
    assert header["features"] == 5 and header["classes"] == 3
    assert [(l["tau_m"], l["tau_s"], l["theta"], l["max_spikes"]) for l in header["layers"]] == [
        (12.0, 4.0, 1.0, 0),
        (20.0, 10.0, 1.0, 0),
    ]
    assert np.array_equal(weights[0], w0)  # w_in = tau_syn and r = 1: scale exactly 1
    scale = (r * w_in) / 0.01
    assert np.array_equal(weights[1], w1.astype(np.float64) * scale[:, None])


def nir_layer_spikes(weight, lif, in_times, in_neurons, t_end, step):
    """Integrates NIR's CubaLIF equations as NIR states them, not as spiketime
    solves them: tau_syn dI/dt = -I + w_in S, tau_mem dv/dt = (v_leak - v) + r I,
    spike when v > v_threshold, then v = v_reset. Classical RK4 with steps of at
    most `step` seconds, cut at every input spike; a step that ends above
    threshold is bisected (each trial one RK4 step from its start) to the
    first crossing. Returns the spike times per neuron and dv/dt at each."""
    n = weight.shape[0]
    current, v = np.zeros(n), np.zeros(n)
    tau_syn, tau_mem, r, w_in = lif.tau_syn, lif.tau_mem, lif.r, lif.w_in

    def flow(i, u):
        return -i / tau_syn, (lif.v_leak - u + r * i) / tau_mem

    def rk4(i, u, h):
        a = flow(i, u)
        b = flow(i + h / 2 * a[0], u + h / 2 * a[1])
        c = flow(i + h / 2 * b[0], u + h / 2 * b[1])
        d = flow(i + h * c[0], u + h * c[1])
        return i + h / 6 * (a[0] + 2 * b[0] + 2 * c[0] + d[0]), u + h / 6 * (a[1] + 2 * b[1] + 2 * c[1] + d[1])

    spikes, slopes = [[] for _ in range(n)], [[] for _ in range(n)]
    t, k = 0.0, 0
    while t < t_end:
        next_input = in_times[k] if k < len(in_times) else math.inf
        stop = min(t + step, next_input, t_end)
        i1, v1 = rk4(current, v, stop - t)
        if np.any(v1 > lif.v_threshold):
            lo, hi = 0.0, stop - t
            for _ in range(80):
                mid = (lo + hi) / 2
                if np.any(rk4(current, v, mid)[1] > lif.v_threshold):
                    hi = mid
                else:
                    lo = mid
            current, v = rk4(current, v, hi)
            t += hi
            for j in np.flatnonzero(v > lif.v_threshold):
                spikes[j].append(t)
                slopes[j].append(flow(current, v)[1][j])
                v[j] = lif.v_reset[j]
            continue
        current, v, t = i1, v1, stop
        while k < len(in_times) and in_times[k] == t:
            # A Dirac impulse of weight W integrates to a jump of w_in W / tau_syn.
            current = current + w_in * weight[:, in_neurons[k]] / tau_syn
            k += 1
    return spikes, slopes


def merge(per_neuron):
    events = sorted((t, j) for j, times in enumerate(per_neuron) for t in times)
    return [t for t, _ in events], [j for _, j in events]


def test_exported_dynamics_match_nir_equations(nir, tmp_path):
    rng = np.random.default_rng(11)
    sizes = [6, 9, 5, 3]
    taus = [(0.010, 0.005), (0.020, 0.005), (0.008, 0.004)]  # ratios 2, 4, 2: every crossing solver path
    weights = [rng.normal(1.0, 1.2, size=(sizes[l + 1], sizes[l])) for l in range(3)]
    lifs = [cubalif(nir, sizes[l + 1], *taus[l]) for l in range(3)]
    meta = {"t_end": 0.06, "t_in_max": 0.02, "time_unit": 1e-3}
    nir.write(tmp_path / "ref.nir", reference_graph(nir, weights, lifs, meta))
    run_cli("import-nir", "--in", tmp_path / "ref.nir", "--out", tmp_path / "m.bin")
    run_cli("export-nir", "--model", tmp_path / "m.bin", "--out", tmp_path / "m.nir")
    exported = nir.read(tmp_path / "m.nir")
    header, model_weights = read_model(tmp_path / "m.bin")
    unit = exported.metadata["time_unit"]
    t_end = exported.metadata["t_end"]
    names = chain(exported)

    for trial in range(3):
        inputs = [np.sort(rng.uniform(0, 20, size=rng.integers(1, 5))).round(3).tolist() for _ in range(sizes[0])]
        case = {
            "t_end": header["t_end"],
            "layers": [
                {"tau_m": l["tau_m"], "tau_s": l["tau_s"], "theta": l["theta"], "weights": w.tolist()}
                for l, w in zip(header["layers"], model_weights)
            ],
            "input_spikes": inputs,
        }
        (tmp_path / "case.json").write_text(json.dumps(case))
        ours = json.loads(run_cli("simulate", tmp_path / "case.json").stdout)["layers"]

        times, neurons = merge([[t * unit for t in ts] for ts in inputs])
        total, worst = 0, 0.0
        for l in range(3):
            linear, lif = exported.nodes[names[1 + 2 * l]], exported.nodes[names[2 + 2 * l]]
            tau_min = min(lif.tau_mem.min(), lif.tau_syn.min())
            step = tau_min / 200
            spikes, slopes = nir_layer_spikes(linear.weight, lif, times, neurons, t_end, step)
            # The tolerance from the step: RK4's local error is about
            # (h / tau)^5 / 120 of the state, summed over t_end / h steps and
            # the state's scale (at most the summed input, |w| per spike);
            # a state error e moves a crossing by e / (dv/dt).
            state_scale = 1.0 + np.abs(linear.weight).sum(axis=1).max() * max(len(times), 1)
            state_error = (t_end / step) * (step / tau_min) ** 5 / 120 * state_scale
            for j, (mine, theirs) in enumerate(zip(spikes, ours[l]["spikes"])):
                assert len(mine) == len(theirs), f"trial {trial} layer {l} neuron {j}: {mine} vs {theirs}"
                for t_nir, t_ours, slope in zip(mine, theirs, slopes[j]):
                    tolerance = 10 * state_error / abs(slope) + 1e-12 * t_end
                    assert abs(t_nir - t_ours * unit) <= tolerance, (trial, l, j, t_nir, t_ours * unit, tolerance)
                    worst = max(worst, abs(t_nir - t_ours * unit) / tolerance)
                total += len(mine)
            times, neurons = merge(spikes)
        print("trial", trial, "spikes", total, "worst error / tolerance", worst)
        assert total > 10, "the test network must spike"
