"""The Python module's numpy API against the CLI and an independent reader:
simulate, load_model (layers, config, predict, evaluate, save), train (with
resume and Ctrl-C), and the NIR functions."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import SOURCE_DIR, read_model, run_cli

spiketime = pytest.importorskip("spiketime", reason="the module is built into <build>/python (SPIKETIME_PYTHONPATH)")

MODEL = SOURCE_DIR / "models" / "mnist-multi-spike-784-800-10.bin"
DATA = SOURCE_DIR / "data"
HAVE_MNIST = (DATA / "mnist" / "t10k-images-idx3-ubyte").exists()


def random_case(rng, sizes, t_end=40.0):
    layers = [
        {"tau_m": 10.0, "tau_s": 5.0, "theta": 1.0, "weights": rng.normal(1.0, 1.0, size=(sizes[l + 1], sizes[l])).tolist()}
        for l in range(len(sizes) - 1)
    ]
    inputs = [sorted(rng.uniform(0, 15, size=rng.integers(0, 4)).tolist()) for _ in range(sizes[0])]
    return {"t_end": t_end, "layers": layers, "input_spikes": inputs}


def test_simulate_gives_the_cli_output(tmp_path):
    rng = np.random.default_rng(5)
    cases = [json.loads((SOURCE_DIR / "examples" / "two_layer.json").read_text())]
    cases += [random_case(rng, [4, 6, 3]), random_case(rng, [5, 7, 4, 2])]
    for case in cases:
        (tmp_path / "case.json").write_text(json.dumps(case))
        for grad in (False, True):
            cli = json.loads(run_cli("simulate", tmp_path / "case.json", *(["--grad"] if grad else [])).stdout)
            assert spiketime.simulate(case, grad=grad) == cli  # same keys, same doubles
    # min_vdot reaches the guard as the flag does.
    (tmp_path / "case.json").write_text(json.dumps(cases[1]))
    cli = json.loads(run_cli("simulate", tmp_path / "case.json", "--grad", "--min-vdot", "0.5").stdout)
    assert spiketime.simulate(cases[1], grad=True, min_vdot=0.5) == cli


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.pop("input_spikes"),
        lambda c: c["layers"][0].update(tau_m=-1.0),
        lambda c: c["layers"][1]["weights"][0].append(0.5),
        lambda c: c["input_spikes"].__setitem__(0, [3.0, 1.0]),
        lambda c: c.update(t_end="long"),
    ],
)
def test_a_malformed_case_raises_the_cli_message(tmp_path, change):
    case = json.loads((SOURCE_DIR / "examples" / "two_layer.json").read_text())
    change(case)
    (tmp_path / "bad.json").write_text(json.dumps(case))
    cli = run_cli("simulate", tmp_path / "bad.json", check=False)
    assert cli.returncode == 2
    with pytest.raises(ValueError) as error:
        spiketime.simulate(case)
    # The CLI's line is "spiketime simulate: <file>: <the same message>".
    assert cli.stderr.strip().endswith(": " + str(error.value)), (cli.stderr, str(error.value))


def test_bad_python_arguments_raise_value_error():
    case = json.loads((SOURCE_DIR / "examples" / "two_layer.json").read_text())
    with pytest.raises(ValueError, match="case"):
        spiketime.simulate([case])
    case["layers"][0]["weights"][0][0] = float("nan")
    with pytest.raises(ValueError, match="case"):
        spiketime.simulate(case)
    with pytest.raises(ValueError, match="min_vdot"):
        spiketime.simulate(json.loads((SOURCE_DIR / "examples" / "two_layer.json").read_text()), min_vdot=-1)
    with pytest.raises(ValueError, match="no-such.bin"):
        spiketime.load_model("no-such.bin")
    model = spiketime.load_model(MODEL)
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((2, 783)))
    with pytest.raises(ValueError, match="features"):
        model.predict(np.full((1, 784), np.nan))
    raw = np.zeros((2, 784))
    raw[1, 300] = 255.0  # a raw 8-bit pixel
    with pytest.raises(ValueError, match=r"features: must lie in \[0, 1\], got 255.0 at row 1, column 300"):
        model.predict(raw)
    with pytest.raises(ValueError, match="must lie in"):
        model.predict(np.full((1, 784), -0.5))
    with pytest.raises(ValueError, match="threads"):
        model.predict(np.zeros((1, 784)), threads=-1)
    with pytest.raises(ValueError, match="config"):
        spiketime.train(42, "nowhere")
    with pytest.raises(ValueError, match="resume"):
        spiketime.train({"dataset": "yinyang"}, "nowhere", resume=True)


def test_load_model_matches_the_file(tmp_path):
    model = spiketime.load_model(MODEL)
    header, weights = read_model(MODEL)
    assert [l.weights.shape for l in model.layers] == [w.shape for w in weights]
    for layer, w, h in zip(model.layers, weights, header["layers"]):
        assert np.array_equal(layer.weights, w)
        assert (layer.tau_m, layer.tau_s, layer.theta, layer.max_spikes) == (h["tau_m"], h["tau_s"], h["theta"], h["max_spikes"])
    assert model.config == header["provenance"]["config"]
    assert (model.n_features, model.n_classes, model.dataset) == (784, 10, "mnist")
    assert model.t_end == header["t_end"] and model.readout == header["readout"]["kind"]
    model.save(tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == MODEL.read_bytes()


def read_idx_images(path):
    data = path.read_bytes()
    n, rows, cols = (int.from_bytes(data[k : k + 4], "big") for k in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows * cols)


@pytest.mark.skipif(not HAVE_MNIST, reason="no MNIST: run scripts/fetch-data.sh")
def test_predict_and_evaluate_give_the_recorded_accuracy():
    model = spiketime.load_model(MODEL)
    record = json.loads(MODEL.with_suffix(".json").read_text())
    images = read_idx_images(DATA / "mnist" / "t10k-images-idx3-ubyte").astype(np.float32) / np.float32(255)
    labels = np.frombuffer((DATA / "mnist" / "t10k-labels-idx1-ubyte").read_bytes(), np.uint8, offset=8)
    predicted = model.predict(images)
    assert predicted.shape == (10000,)
    assert np.mean(predicted == labels) == record["test_accuracy"]
    report = model.evaluate("mnist", data_dir=str(DATA))
    cli = json.loads(run_cli("eval", "--model", MODEL, "--dataset", "mnist", "--data-dir", DATA, "--json").stdout)
    cli.pop("model")
    assert report == cli
    assert report["accuracy"] == record["test_accuracy"]
    with pytest.raises(ValueError, match="split"):
        model.evaluate("mnist", split="dev", data_dir=str(DATA))


SMALL = {"dataset": "yinyang", "epochs": 3, "hidden": [16], "train_limit": 600, "threads": 1}


def test_train_writes_the_run_of_the_cli(tmp_path):
    result = spiketime.train(SMALL, tmp_path / "py", progress=False)
    assert result["finished"] and result["epochs_done"] == 3
    assert result["last_epoch"]["epoch"] == 3
    args = [f"--set={k}={json.dumps(v)}" for k, v in SMALL.items() if k != "dataset"]
    run_cli("train", "--dataset", "yinyang", "--out", tmp_path / "cli", *args)
    for name in ("model.bin", "checkpoint.bin", "config.json"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    # A run stopped after one epoch and resumed ends with the same weights.
    spiketime.train(SMALL, tmp_path / "resumed", progress=False, stop_after=1)
    resumed = spiketime.train(None, tmp_path / "resumed", resume=True, progress=False)
    assert resumed["finished"]
    assert (tmp_path / "resumed" / "checkpoint.bin").read_bytes() == (tmp_path / "py" / "checkpoint.bin").read_bytes()
    # A config file works as the dict does; errors are ValueError with the CLI's message.
    (tmp_path / "config.json").write_text(json.dumps(SMALL | {"lr": -1}))
    with pytest.raises(ValueError, match="lr"):
        spiketime.train(str(tmp_path / "config.json"), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ValueError, match="holds another run"):
        spiketime.train(SMALL, tmp_path / "py", progress=False)
    with pytest.raises(ValueError, match="force"):
        spiketime.train(None, tmp_path / "py", resume=True, force=True)
    restarted = spiketime.train(dict(SMALL, seed=2), tmp_path / "py", progress=False, force=True)
    assert restarted["finished"]
    assert (tmp_path / "py" / "model.bin").read_bytes() != (tmp_path / "cli" / "model.bin").read_bytes()
    with pytest.raises(ValueError, match="unknown"):
        spiketime.train({"dataset": "yinyang", "hiden": [3]}, tmp_path / "typo")


def test_ctrl_c_stops_training_and_the_run_resumes(tmp_path):
    script = (
        "import spiketime, sys\n"
        f"spiketime.train({{'dataset': 'yinyang', 'epochs': 50, 'hidden': [64], 'threads': 1}}, {str(tmp_path / 'run')!r})\n"
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = child.stdout.readline()  # the first finished epoch
    assert first.startswith("epoch 1"), first + child.stderr.read()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode != 0 and "KeyboardInterrupt" in err, err
    done = read_model(tmp_path / "run" / "model.bin")[0]["provenance"]["epoch"]
    assert done >= 1
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(l)["epoch"] for l in lines] == list(range(1, len(lines) + 1))
    # The directory holds whole epochs only and continues from them.
    more = spiketime.train(None, tmp_path / "run", resume=True, progress=False, stop_after=1)
    assert more["epochs_done"] == len(lines) + 1


def test_nir_from_python_is_the_cli(tmp_path):
    model = spiketime.load_model(MODEL)
    spiketime.export_nir(model, tmp_path / "py.nir")
    run_cli("export-nir", "--model", MODEL, "--out", tmp_path / "cli.nir")
    back = spiketime.import_nir(tmp_path / "py.nir")
    back.save(tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == MODEL.read_bytes()
    run_cli("import-nir", "--in", tmp_path / "cli.nir", "--out", tmp_path / "cli.bin")
    assert (tmp_path / "cli.bin").read_bytes() == MODEL.read_bytes()
    with pytest.raises(ValueError, match="not an HDF5 file"):
        spiketime.import_nir(MODEL)
    # A file on which libhdf5 itself crashes (tests/fuzz/hdf5-faults): read
    # in a child process, it is one error, and this process goes on.
    for damaged in sorted((SOURCE_DIR / "tests" / "fuzz" / "hdf5-faults").glob("*.nir")):
        with pytest.raises(ValueError, match="the HDF5 library failed on it"):
            spiketime.import_nir(damaged)
    assert spiketime.import_nir(tmp_path / "py.nir").layers[0].weights.shape == back.layers[0].weights.shape
    with pytest.raises(ValueError, match="model"):
        spiketime.export_nir("model.bin", tmp_path / "x.nir")
