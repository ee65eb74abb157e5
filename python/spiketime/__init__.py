"""spiketime: exact, event-driven simulation and timing-based training of
multi-spike spiking neural networks, from Python.

    import spiketime
    out = spiketime.simulate(case)                   # docs/SIMULATE.md, as `spiketime simulate`
    model = spiketime.load_model("models/mnist-multi-spike-784-800-10.bin")
    model.predict(features)                          # class per row of an (N, n_features) array
    model.evaluate("mnist")                          # as `spiketime eval --json`
    spiketime.train({"dataset": "yinyang"}, "runs/yy")  # as `spiketime train`

Errors in the input raise ValueError with the message the CLI prints.
"""
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Optional, Union

try:
    import numpy as np
except ImportError as e:  # a python3 of pyenv or conda first on PATH, say
    raise ImportError(f"spiketime needs numpy, which {sys.executable} cannot import: use Debian's "
                      "/usr/bin/python3 with python3-numpy (scripts/install-deps.sh), or install numpy "
                      "for this interpreter") from e

from . import _core

__version__ = _core.__version__
InputError = _core.InputError  # a subclass of ValueError

__all__ = ["simulate", "load_model", "train", "export_nir", "import_nir", "Model", "Layer", "simd_target"]


def simd_target() -> str:
    """The SIMD target the engine runs on (SPIKETIME_TARGET chooses another)."""
    return _core.simd_target()


def _to_json(value, name: str) -> str:
    def default(obj):
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        raise ValueError(f"{name}: cannot be written as JSON ({type(obj).__name__})")

    try:
        return json.dumps(value, default=default, allow_nan=False)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def simulate(case: dict, grad: bool = False, min_vdot: float = 1e-12) -> dict:
    """Runs one sample through a network given as in docs/SIMULATE.md and
    returns the output of `spiketime simulate` (same keys, same doubles)."""
    if not isinstance(case, dict):
        raise ValueError(f"case: expected a dict, got {type(case).__name__}")
    if not (isinstance(min_vdot, (int, float)) and math.isfinite(min_vdot) and min_vdot >= 0):
        raise ValueError("min_vdot: must be a finite number >= 0")
    return json.loads(_core.simulate_json(_to_json(case, "case"), bool(grad), float(min_vdot)))


@dataclass(frozen=True)
class Layer:
    """One layer: weights[i, j] is the weight from input j to neuron i."""

    weights: np.ndarray
    tau_m: float
    tau_s: float
    theta: float
    max_spikes: int  # 0: unlimited


class Model:
    """A trained classifier: latency encoding, LIF layers and readout."""

    def __init__(self, core):
        self._core = core

    @property
    def layers(self):
        return [Layer(**d) for d in self._core.layers()]

    @property
    def config(self) -> dict:
        """The training config the model was made with ({} if unknown)."""
        return self.provenance.get("config", {})

    @property
    def provenance(self) -> dict:
        return json.loads(self._core.provenance_json)

    n_features = property(lambda self: self._core.n_features)
    n_classes = property(lambda self: self._core.n_classes)
    dataset = property(lambda self: self._core.dataset)
    t_end = property(lambda self: self._core.t_end)
    t_in_max = property(lambda self: self._core.t_in_max)
    bias_times = property(lambda self: list(self._core.bias_times))
    readout = property(lambda self: self._core.readout)
    tau_out = property(lambda self: self._core.tau_out)

    def predict(self, features, threads: int = 0) -> np.ndarray:
        """Class indices for an (N, n_features) array of features in [0, 1];
        -1 where every output stays silent."""
        x = np.asarray(features)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"features: expected shape (N, {self.n_features}), got {x.shape}")
        if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
            raise ValueError("features: must be finite numbers")
        # The latency code (MODEL.md) fires feature value 1 at t = 0 and 0
        # never: a raw 8-bit pixel of 255 would fire 2540 time units before
        # the window and give a class without a word.
        outside = (x < 0) | (x > 1)
        if np.any(outside):
            row, col = np.argwhere(outside)[0]
            raise ValueError(f"features: must lie in [0, 1], got {x[row, col]} at row {row}, column {col} "
                             "(8-bit images: divide by 255)")
        return self._core.predict(np.ascontiguousarray(x, dtype=np.float32), _threads(threads))

    def evaluate(self, dataset: str, split: str = "test", data_dir: Optional[str] = None, threads: int = 0) -> dict:
        """The figures of `spiketime eval --json` on a split of a data set."""
        return json.loads(self._core.evaluate_json(dataset, split, data_dir or "", _threads(threads)))

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes a model file (atomically), as training does."""
        self._core.save(os.fspath(path))

    def __repr__(self):
        layers = self.layers  # each access copies the weights
        shape = "-".join([str(layers[0].weights.shape[1])] + [str(l.weights.shape[0]) for l in layers])
        return f"<spiketime.Model {self.dataset or '?'} {shape} readout={self.readout}>"


def _threads(threads) -> int:
    if not isinstance(threads, int) or isinstance(threads, bool) or not 0 <= threads <= 1024:
        raise ValueError("threads: must be an integer from 0 (every core) to 1024")
    return threads


def load_model(path: Union[str, os.PathLike]) -> Model:
    """Reads a model file (model.bin of a run, or one of models/)."""
    return Model(_core.load_model(os.fspath(path)))


def train(config: Union[dict, str, os.PathLike, None], out: Union[str, os.PathLike], resume: bool = False,
          progress: bool = True, stop_after: int = 0, force: bool = False) -> dict:
    """Trains as `spiketime train` does, into the run directory `out`
    (config.json, metrics.jsonl, model.bin, checkpoint.bin). config: a dict of
    config keys (docs/TRAINING.md) or the path of a JSON config file; with
    resume=True (and config None) the run in `out` continues from its
    checkpoint. force=True starts over in a directory holding another run's
    files (a directory in use by a live run is always refused).
    stop_after > 0 stops after that many epochs. Returns the run's
    result with the last epoch's metrics. Ctrl-C stops after the current
    batch; the directory then holds the last finished epoch."""
    if resume:
        if config is not None:
            raise ValueError("config: resume=True takes the run's own config; pass None")
        if force:
            raise ValueError("force: resume=True continues the run in out; force starts a new one")
        source, text = "config", "{}"
    elif isinstance(config, dict):
        source, text = "config", _to_json(config, "config")
    elif isinstance(config, (str, os.PathLike)):
        source = os.fspath(config)
        try:
            with open(source, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ValueError(f"{source}: cannot read ({e.strerror})") from None
    else:
        raise ValueError(f"config: expected a dict or a path, got {type(config).__name__}")

    def on_epoch(line: str):
        if progress:
            m = json.loads(line)
            print(f"epoch {m['epoch']}  loss {m['loss']:.4f}  train {100 * m['train_accuracy']:.2f}%  "
                  f"validation {100 * m['validation_accuracy']:.2f}%  test {100 * m['test_accuracy']:.2f}%  "
                  f"{m['seconds']:.1f} s", flush=True)

    return json.loads(_core.train_json(text, source, os.fspath(out), bool(resume), bool(force),
                                      int(stop_after), on_epoch))


def export_nir(model: Model, path: Union[str, os.PathLike], time_unit: float = 1e-3) -> None:
    """Writes the model as a NIR graph (docs/NIR.md), as `spiketime export-nir`."""
    if not isinstance(model, Model):
        raise ValueError(f"model: expected a spiketime.Model, got {type(model).__name__}")
    _core.export_nir(model._core, os.fspath(path), float(time_unit))


def import_nir(path: Union[str, os.PathLike], time_unit: Optional[float] = None, t_end: Optional[float] = None,
               t_in_max: Optional[float] = None) -> Model:
    """Reads a NIR graph into a model, as `spiketime import-nir` (in a child
    process, so that a file that crashes or hangs libhdf5 is one ValueError;
    docs/LIMITS.md)."""
    return Model(_core.import_nir(os.fspath(path), time_unit, t_end, t_in_max))
