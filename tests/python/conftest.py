"""Shared fixtures of the Python tests: where the CLI, the sources and the NIR
reference reader are, and an independent reader of spiketime's model files."""
import json
import os
import pathlib
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("SPIKETIME_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
CLI = os.environ.get("SPIKETIME_CLI", str(SOURCE_DIR / "build" / "spiketime"))
NIR_REFERENCE = pathlib.Path(os.environ.get("SPIKETIME_NIR_REFERENCE", SOURCE_DIR.parent / "shared" / "vendor"))


def run_cli(*args, check=True):
    """Runs the spiketime executable; returns the CompletedProcess."""
    result = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"spiketime {' '.join(map(str, args))} failed: {result.stderr}")
    return result


@pytest.fixture(scope="session")
def nir():
    """The NIR reference implementation (tests only, never the product)."""
    if not (NIR_REFERENCE / "nir" / "__init__.py").exists():
        pytest.fail(f"the NIR reference reader is not at {NIR_REFERENCE}/nir: set SPIKETIME_NIR_REFERENCE")
    sys.path.insert(0, str(NIR_REFERENCE))
    import nir as reference

    return reference


def read_model(path):
    """Reads a model file as docs/TRAINING.md lays it out, written here from
    the format description rather than through the library: magic, version,
    JSON header, arrays of little-endian doubles, CRC-32 of all before it.
    Returns (header, [weights as (n_out, n_in) arrays])."""
    data = pathlib.Path(path).read_bytes()
    magic = b"SPIKETIME-MODEL\n"
    assert data.startswith(magic)
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])
    pos = len(magic)

    def u64():
        nonlocal pos
        (value,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        return value

    assert u64() == 1
    size = u64()
    header = json.loads(data[pos : pos + size])
    pos += size
    weights = []
    for layer in header["layers"][: u64()]:
        n = u64()
        values = np.frombuffer(data, dtype="<f8", count=n, offset=pos)
        pos += 8 * n
        # The file is input-major: value j * n_out + i is input j to neuron i.
        weights.append(values.reshape(layer["inputs"], layer["neurons"]).T.copy())
    assert pos == len(data) - 4
    return header, weights
