"""spiketime.torch: exact LIF layers in PyTorch against finite differences
(gradcheck), against `spiketime.simulate(..., grad=True)`, against the
trainer's readout (model.predict), and the distributed example against one
process."""
import json
import math
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import SOURCE_DIR

torch = pytest.importorskip("torch")
spiketime = pytest.importorskip("spiketime", reason="the module is built into <build>/python")
import spiketime.torch as st  # noqa: E402

torch.set_num_threads(1)
INF = math.inf
DATA = SOURCE_DIR / "data"
HAVE_MNIST = (DATA / "mnist" / "t10k-images-idx3-ubyte").exists()
EXAMPLE = SOURCE_DIR / "examples" / "python" / "train_mnist_torch.py"


def padded(per_neuron_lists):
    """[[times of neuron j]] per sample -> (batch, n, K) tensor padded with inf."""
    k = max([len(t) for sample in per_neuron_lists for t in sample] + [1])
    out = torch.full((len(per_neuron_lists), len(per_neuron_lists[0]), k), INF, dtype=torch.float64)
    for b, sample in enumerate(per_neuron_lists):
        for j, times in enumerate(sample):
            out[b, j, : len(times)] = torch.tensor(times, dtype=torch.float64)
    return out


def random_network(rng, sizes, ratio):
    tau_s = 5.0
    layers = []
    for l in range(len(sizes) - 1):
        w = rng.normal(1.2, 1.0, size=(sizes[l + 1], sizes[l]))
        layers.append({"tau_m": tau_s * ratio, "tau_s": tau_s, "theta": 1.0, "weights": w.tolist()})
    inputs = [sorted(rng.uniform(0, 15, size=rng.integers(1, 4)).round(6).tolist()) for _ in range(sizes[0])]
    return {"t_end": 40.0, "layers": layers, "input_spikes": inputs}


def lif_stack(case):
    mods = []
    for layer in case["layers"]:
        w = torch.tensor(layer["weights"], dtype=torch.float64)
        m = st.LIF(w.shape[1], w.shape[0], tau_m=layer["tau_m"], tau_s=layer["tau_s"], t_end=case["t_end"],
                   theta=layer["theta"], threads=2)
        with torch.no_grad():
            m.weight.copy_(w)
        mods.append(m)
    return mods


@pytest.mark.parametrize("ratio", [0.5, 1.0, 2.0, 3.7])
@pytest.mark.parametrize("depth", [2, 3])
def test_stacked_layers_give_the_spikes_and_gradients_of_simulate(ratio, depth):
    rng = np.random.default_rng(int(ratio * 10) + depth)
    sizes = [5, 7, 4] if depth == 2 else [5, 7, 6, 3]
    checked = 0
    for trial in range(4):
        case = random_network(rng, sizes, ratio)
        expect = spiketime.simulate(case, grad=True)
        mods = lif_stack(case)
        times = padded([case["input_spikes"]]).requires_grad_(True)
        out, x = None, times
        for l, m in enumerate(mods):
            x = m(x)
            got = [[t for t in row if math.isfinite(t)] for row in x[0].tolist()]
            assert got == expect["layers"][l]["spikes"], (trial, l)
        out = x
        out[torch.isfinite(out)].sum().backward()  # the objective of --grad: the sum of the last layer's times
        for l, m in enumerate(mods):
            want = np.array(expect["grad"]["weights"][l])
            np.testing.assert_allclose(m.weight.grad.numpy(), want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
        for j, grads in enumerate(expect["grad"]["input_spikes"]):
            np.testing.assert_allclose(times.grad[0, j, : len(grads)].numpy(), grads, rtol=1e-12, atol=1e-12)
            assert torch.all(times.grad[0, j, len(grads):] == 0)
        checked += sum(len(s) for s in expect["layers"][-1]["spikes"])
        # The same layers in one engine call: the same spikes, the same gradients.
        fused = st.LIFStack(*lif_stack(case))
        times2 = padded([case["input_spikes"]]).requires_grad_(True)
        out2 = fused(times2)
        assert torch.equal(out2, out.detach())
        for l in range(depth):
            counts = [len(s) for s in expect["layers"][l]["spikes"]]
            assert fused.spike_counts(l)[0].tolist() == counts
        out2[torch.isfinite(out2)].sum().backward()
        for m, f in zip(mods, fused.layers):
            np.testing.assert_allclose(f.weight.grad.numpy(), m.weight.grad.numpy(), rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(times2.grad.numpy(), times.grad.numpy(), rtol=1e-13, atol=1e-300)
    assert checked > 0, "the cases must make the last layer fire"


def finite_sum(out):
    return out[torch.isfinite(out)].sum()


def test_passes_in_flight_keep_their_own_spikes_and_gradients():
    """The engine reuses the memory of passes no graph holds any more; passes
    still held (here three forwards before their backwards, in another
    order) must keep their own spikes and give the gradients of a forward
    and backward taken alone."""
    rng = np.random.default_rng(7)
    cases = [random_network(rng, [5, 7, 4], 2.0) for _ in range(3)]
    net = st.LIFStack(*lif_stack(cases[0]))
    inputs = [padded([c["input_spikes"] for c in cases[k:] + cases[:k]]) for k in range(3)]
    alone = []
    for x in inputs:
        net.zero_grad()
        out = net(x)
        finite_sum(out).backward()
        alone.append((out.detach().clone(), [l.weight.grad.clone() for l in net.layers], net.spike_counts(0).clone()))
    outs = [net(x) for x in inputs]
    assert torch.equal(net.spike_counts(0), alone[2][2]), "spike_counts: of the last forward"
    for k in (1, 2, 0):
        net.zero_grad()
        finite_sum(outs[k]).backward()
        assert torch.equal(outs[k], alone[k][0])
        for got, want in zip([l.weight.grad for l in net.layers], alone[k][1]):
            assert torch.equal(got, want), k
    assert any(not torch.equal(alone[0][1][0], a[1][0]) for a in alone[1:]), "the batches must differ"


def test_float32_weights_run_the_float64_engine():
    """dtype=torch.float32 keeps weights, times and gradients in float32; the
    engine computes in float64 from them, so the results are the float64
    layer's on the same (float32-representable) numbers, rounded once."""
    rng = np.random.default_rng(11)
    checked = 0
    for trial in range(4):
        case = random_network(rng, [6, 8, 5], 1.5)
        double = lif_stack(case)
        single = []
        for m in double:
            f = st.LIF(m.weight.shape[1], m.weight.shape[0], tau_m=m.tau_m, tau_s=m.tau_s, t_end=m.t_end,
                       dtype=torch.float32)
            with torch.no_grad():
                f.weight.copy_(m.weight.float())
                m.weight.copy_(f.weight.double())  # the same numbers in both
            single.append(f)
        times = padded([case["input_spikes"]]).float()
        out64 = st.LIFStack(*double)(times.double())
        out32 = st.LIFStack(*single)(times)
        assert out32.dtype == torch.float32
        assert torch.equal(out32, out64.detach().float())
        finite_sum(out64).backward()
        finite_sum(out32).backward()  # dL/dt = 1 for every spike: the same in both precisions
        for f, m in zip(single, double):
            assert f.weight.grad.dtype == torch.float32
            assert torch.equal(f.weight.grad, m.weight.grad.float())
        checked += int(torch.isfinite(out64).sum())
    assert checked > 0


def test_weight_layout_does_not_change_results():
    """LIF stores its (n_out, n_in) weight input-major, as the engine does; a
    weight replaced by a row-major tensor takes the transposing copy and
    must give the same spikes and gradients."""
    case = random_network(np.random.default_rng(5), [5, 7, 4], 1.0)
    a, b = lif_stack(case), lif_stack(case)
    assert a[0].weight.shape == (7, 5) and a[0].weight.stride() == (1, 7)
    for m in b:
        m.weight = torch.nn.Parameter(m.weight.detach().contiguous())
    assert b[0].weight.stride() == (5, 1)
    outs = []
    for mods in (a, b):
        out = st.LIFStack(*mods)(padded([case["input_spikes"]]))
        finite_sum(out).backward()
        outs.append(out.detach())
    assert torch.equal(outs[0], outs[1])
    for m, n in zip(a, b):
        assert torch.equal(m.weight.grad, n.weight.grad)


def test_gradcheck_on_small_multi_spike_layers():
    rng = np.random.default_rng(2)
    layer = st.LIF(3, 4, tau_m=10.0, tau_s=5.0, t_end=40.0)
    weight = torch.tensor(rng.normal(2.5, 1.0, size=(4, 3)), dtype=torch.float64, requires_grad=True)
    times = padded([[[1.0, 6.0], [2.5], [4.0, 9.0]], [[0.5], [3.0, 3.5], []]]).requires_grad_(True)

    def finite_spikes(t, w):
        out = st._NetworkFunction.apply(t, layer, [layer], w)
        return torch.where(torch.isfinite(out), out, torch.zeros_like(out))

    out = st._NetworkFunction.apply(times, layer, [layer], weight)
    assert (torch.isfinite(out).sum(dim=2) >= 2).any(), "some neuron must fire more than once"
    assert torch.autograd.gradcheck(finite_spikes, (times, weight), eps=1e-6, atol=1e-6, rtol=1e-5)
    # And through two layers, the first one's reset chain included.
    second = st.LIF(4, 2, tau_m=20.0, tau_s=5.0, t_end=40.0)
    w2 = torch.tensor(rng.normal(1.5, 0.5, size=(2, 4)), dtype=torch.float64, requires_grad=True)

    def two_layers(t, w, v):
        out = st._NetworkFunction.apply(st._NetworkFunction.apply(t, layer, [layer], w), second, [second], v)
        return torch.where(torch.isfinite(out), out, torch.zeros_like(out))

    assert torch.isfinite(two_layers(times, weight, w2)).all()
    assert torch.autograd.gradcheck(two_layers, (times, weight, w2), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_bad_arguments_raise_value_error_naming_them():
    layer = st.LIF(2, 3, tau_m=10, tau_s=5, t_end=20)
    good = padded([[[1.0], [2.0]]])
    layer(good)
    bad = {
        "dtype": good.float(),
        "shape": good[:, :1],
        "NaN": good.clone().fill_(math.nan),
        "unsorted": padded([[[3.0, 1.0], [2.0]]]),
        "-inf": good.clone().fill_(-INF),
    }
    for what, times in bad.items():
        with pytest.raises(ValueError, match="times") as error:
            layer(times)
        assert "times" in str(error.value), what
    for kwargs, name in [
        (dict(tau_m=0), "tau_m"),
        (dict(tau_s=-1), "tau_s"),
        (dict(t_end=math.inf), "t_end"),
        (dict(theta="1"), "theta"),
        (dict(max_spikes=0), "max_spikes"),
        (dict(min_vdot=-1), "min_vdot"),
        (dict(dtype=torch.int32), "dtype"),
        (dict(threads=-2), "threads"),
    ]:
        args = dict(tau_m=10, tau_s=5, t_end=20) | kwargs
        with pytest.raises(ValueError, match=name):
            st.LIF(2, 3, **args)
    with pytest.raises(ValueError, match="n_in"):
        st.LIF(0, 3, tau_m=10, tau_s=5, t_end=20)
    with pytest.raises(ValueError, match="t_end"):
        st.LIFStack(layer, st.LIF(3, 2, tau_m=10, tau_s=5, t_end=30))
    with pytest.raises(ValueError, match="feed"):
        st.LIFStack(layer, st.LIF(4, 2, tau_m=10, tau_s=5, t_end=20))
    with pytest.raises(ValueError, match="times"):
        st.LIFStack(layer, st.LIF(3, 2, tau_m=10, tau_s=5, t_end=20))(good.float())
    with pytest.raises(ValueError, match="labels"):
        st.all_spikes_loss(layer(good), torch.tensor([0, 1]), tau_out=1.0, t_end=20)
    raw = torch.zeros(2, 28, 28, dtype=torch.float64)
    raw[1, 10, 20] = 255.0  # a raw 8-bit pixel: feature 10 * 28 + 20
    with pytest.raises(ValueError, match=r"images: must lie in \[0, 1\], got 255.0 at sample 1, feature 300"):
        st.encode(raw, t_in_max=10)
    for value in (-0.5, math.nan):
        with pytest.raises(ValueError, match="images: must lie in"):
            st.encode(torch.full((1, 4), value, dtype=torch.float64), t_in_max=10)


def test_readouts_are_the_trainers():
    rng = np.random.default_rng(4)
    t = rng.uniform(0, 30, size=(6, 4, 3))
    t.sort(axis=2)
    t[0, 1, :] = INF  # a silent class
    t[1, :, 1:] = INF  # one spike each
    t[2] = INF  # all silent
    labels = torch.tensor([1, 0, 2, 3, 0, 2])
    times = torch.tensor(t, requires_grad=True)
    tau_out, t_end = 2.0, 40.0
    # first spike: z = -t_first / tau_out, silent -> -t_end / tau_out
    first = np.where(np.isfinite(t[:, :, 0]), t[:, :, 0], t_end)
    z = -first / tau_out
    ce = np.log(np.exp(z).sum(1)) - z[np.arange(6), labels.numpy()]
    loss = st.first_spike_loss(times, labels, tau_out, t_end)
    assert math.isclose(loss.item(), ce.mean(), rel_tol=1e-12)
    # all spikes: z = log sum exp(-t/tau_out); the gradient as loss.cpp writes it
    with np.errstate(divide="ignore"):
        z = np.log(np.exp(-t / tau_out).sum(2))
    z = np.where(np.isfinite(t).any(2), z, -t_end / tau_out)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    ce = np.log(np.exp(z).sum(1)) - z[np.arange(6), labels.numpy()]
    loss = st.all_spikes_loss(times, labels, tau_out, t_end)
    assert math.isclose(loss.item(), ce.mean(), rel_tol=1e-12)
    loss.backward()
    onehot = np.eye(4)[labels.numpy()]
    share = np.where(np.isfinite(t), np.exp(-np.where(np.isfinite(t), t, 0) / tau_out - z[:, :, None]), 0)
    want = (onehot - p)[:, :, None] * share / tau_out / 6
    np.testing.assert_allclose(times.grad.numpy(), want, rtol=1e-10, atol=1e-15)


@pytest.mark.skipif(not HAVE_MNIST, reason="no MNIST: run scripts/fetch-data.sh")
def test_the_shipped_model_in_torch_predicts_as_the_engine():
    model = spiketime.load_model(SOURCE_DIR / "models" / "mnist-multi-spike-784-800-10.bin")
    raw = (DATA / "mnist" / "t10k-images-idx3-ubyte").read_bytes()
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784)[:300].astype(np.float32) / np.float32(255)
    layers = []
    for layer in model.layers:
        m = st.LIF(layer.weights.shape[1], layer.weights.shape[0], tau_m=layer.tau_m, tau_s=layer.tau_s,
                   t_end=model.t_end, theta=layer.theta)
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(layer.weights))
        layers.append(m)
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():
        out = net(st.encode(torch.from_numpy(images).double(), model.t_in_max))
    scores = st.all_spikes_scores(out, model.tau_out, model.t_end)
    assert model.readout == "all_spikes"
    expect = model.predict(images)
    fired = expect >= 0
    assert fired.mean() > 0.95
    assert np.array_equal(scores.argmax(1).numpy()[fired], expect[fired])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not HAVE_MNIST, reason="no MNIST: run scripts/fetch-data.sh")
def test_two_processes_with_batch_16_equal_one_with_batch_32(tmp_path):
    # Without the push: the hidden neurons it pushes are those silent over
    # each process's own samples, which differ from those of the whole batch.
    common = ["--steps", "4", "--hidden", "64", "--threads", "1", "--data-dir", str(DATA), "--no-eval",
              "--silent-push", "0"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    one = subprocess.run([sys.executable, str(EXAMPLE), *common, "--batch-size", "32", "--save", str(tmp_path / "one.pt")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
                          "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
                          # Debian's torch 1.13 on Python 3.11 reads the default "0" of these
                          # as nothing and fails (fixed upstream in 2.0); 2 redirects and tees stderr.
                          "--redirects", "2", "--tee", "2", "--log_dir", str(tmp_path / "logs"), str(EXAMPLE), *common,
                          "--batch-size", "16", "--save", str(tmp_path / "two.pt")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert two.returncode == 0, two.stderr
    a, b = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    assert a.keys() == b.keys()
    moved = 0.0
    for key in a:
        assert a[key].dtype == torch.float64
        # Four Adam steps: the gradients differ only in the order of one sum
        # (16 + 16 samples averaged across processes against 32 in one).
        torch.testing.assert_close(a[key], b[key], rtol=1e-9, atol=1e-12)
        moved = max(moved, (a[key] - b[key]).abs().max().item())
    print("largest difference", moved)
