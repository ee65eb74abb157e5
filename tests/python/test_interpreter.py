"""Started by a Python without numpy (pyenv's or conda's python3 first on
PATH, a venv without the system's packages): the module says what is missing
and where to get it; the experiment scripts that need numpy, torch or
matplotlib run again under Debian's /usr/bin/python3, and where that cannot
import them either, exit 2 with one line naming them."""
import os
import subprocess
import sys

import pytest

from conftest import SOURCE_DIR

DEBIAN_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """The interpreter of a venv that sees no site packages: no numpy."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    assert subprocess.run([str(python), "-c", "import numpy"], capture_output=True).returncode != 0
    return str(python)


def run(python, *args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ("SPIKETIME_RERUN_UNDER", "LD_LIBRARY_PATH")}
    environment.update(env)
    return subprocess.run([python, *args], capture_output=True, text=True, cwd=SOURCE_DIR, env=environment,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_module_names_numpy_and_the_interpreter(bare_python):
    module_dir = os.environ.get("PYTHONPATH")
    if not module_dir:
        pytest.skip("the module is not built here (sanitizer build)")
    result = run(bare_python, "-c", "import spiketime", PYTHONPATH=module_dir)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "spiketime needs numpy" in last and bare_python in last and DEBIAN_PYTHON in last


@pytest.mark.skipif(not os.access(DEBIAN_PYTHON, os.X_OK), reason="no Debian python3 here")
def test_experiment_runs_again_under_debian_python(bare_python):
    # ann_baseline.py imports numpy and torch at its start: without running
    # again under Debian's python3, even --help would end in a traceback.
    if subprocess.run([DEBIAN_PYTHON, "-c", "import numpy, torch"], capture_output=True).returncode:
        pytest.skip("Debian's python3 lacks numpy or torch here (scripts/install-deps.sh)")
    result = run(bare_python, "experiments/ann_baseline.py", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")


@pytest.mark.skipif(not os.access(DEBIAN_PYTHON, os.X_OK), reason="no Debian python3 here")
@pytest.mark.parametrize("script, modules", [("ann_baseline.py", "numpy, torch"), ("tau_sweep.py", "matplotlib"),
                                             ("spike_histograms.py", "matplotlib")])
def test_experiment_without_its_modules_is_one_clear_error(script, modules):
    # -S: no site packages, so not even Debian's python3 finds them; the
    # script must say so before anything else (--help included, so that a
    # sweep never runs for hours to fail at its figure), without re-running
    # itself in a loop or ending in a traceback.
    result = run(DEBIAN_PYTHON, "-S", f"experiments/{script}", "--help")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{script}: {modules} cannot be imported by /usr/bin/python3")
    assert "install-deps.sh --experiments" in lines[0]
