"""Shared helpers of the experiment scripts: running `spiketime train` with
provenance, reading its results, writing CSV and tables atomically.

Every run lives in runs/experiments/<name>/ (the run directory of
`spiketime train`, plus run.json: the command, the git commit and whether the
tree was clean). A run whose model.bin and run.json exist is not run again,
so an interrupted script picks up where it stopped.
"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "build", "spiketime")
RUNS = os.path.join(ROOT, "runs", "experiments")
RESULTS = os.path.join(ROOT, "experiments", "results")


def fail(message):
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
    sys.exit(2)


DEBIAN_PYTHON = "/usr/bin/python3"


def python_with(modules, library_dir=None):
    """Makes sure this script runs under a Python that can import `modules`
    (numpy, torch, matplotlib: they come from apt here), with `library_dir`
    first on LD_LIBRARY_PATH if given. Where the interpreter it was started
    with lacks them (`python3` of pyenv or conda first on PATH, a venv without
    the system's packages), the script runs again, once, under Debian's
    /usr/bin/python3; where that lacks them too, one error names them."""
    import importlib.util
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    library_path = os.environ.get("LD_LIBRARY_PATH", "")
    add_library = library_dir is not None and library_dir not in library_path.split(":")
    if not missing and not add_library:
        return
    interpreter = sys.executable
    if missing:
        if os.environ.get("SPIKETIME_RERUN_UNDER") == DEBIAN_PYTHON or sys.executable == DEBIAN_PYTHON \
                or not os.access(DEBIAN_PYTHON, os.X_OK):
            fail(f"{', '.join(missing)} cannot be imported by {sys.executable}: install the Debian packages "
                 f"(bash scripts/install-deps.sh --experiments) and run the script with {DEBIAN_PYTHON}")
        interpreter = DEBIAN_PYTHON
        os.environ["SPIKETIME_RERUN_UNDER"] = DEBIAN_PYTHON
    if add_library:
        if not os.path.isdir(library_dir):
            fail(f"{library_dir} not found: install its Debian package (bash scripts/install-deps.sh --experiments)")
        os.environ["LD_LIBRARY_PATH"] = ":".join(filter(None, [library_dir, library_path]))
    os.execv(interpreter, [interpreter] + sys.argv)


def git_commit():
    def git(*args):
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True, check=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"), "clean": git("status", "--porcelain", "--untracked-files=no") == ""}


def tag(x):
    """A number as run names write it: 2.5 -> 2p5, 10.0 -> 10."""
    return f"{x:g}".replace(".", "p")


def write_atomic(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as f:
        f.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes it private
    os.replace(tmp, path)


def train(name, dataset, config=None, settings=None, epochs=None):
    """Trains with a config file of experiments/configs/ and `--set` overrides
    (unless already done; an interrupted run is resumed); returns the run's summary."""
    if not os.access(BINARY, os.X_OK):
        fail(f"{BINARY} not found: build first (bash scripts/setup.sh or cmake --build build)")
    out = os.path.join(RUNS, name)
    record = os.path.join(out, "run.json")
    if not (os.path.exists(record) and os.path.exists(os.path.join(out, "model.bin"))):
        cmd = [BINARY, "train", "--dataset", dataset, "--out", out]
        if config is not None:
            cmd += ["--config", os.path.join(ROOT, "experiments", "configs", config)]
        if epochs is not None:
            cmd += ["--epochs", str(epochs)]
        for key, value in (settings or {}).items():
            cmd += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value, separators=(',', ':'))}"]
        shown = " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)
        # A run stopped before its first epoch ended has only its config.json:
        # --resume starts it from that config (the fresh command would refuse
        # the directory, which holds another run).
        interrupted = os.path.exists(os.path.join(out, "config.json"))
        run_cmd = [BINARY, "train", "--resume", out] if interrupted else cmd
        print(f"[{name}] {'resuming ' if interrupted else ''}{shown}", flush=True)
        provenance = git_commit()
        log_path = os.path.join(RUNS, name + ".log")
        os.makedirs(RUNS, exist_ok=True)
        with open(log_path, "a") as log:
            status = subprocess.run(run_cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        if status != 0:
            # The command's own message (one line for bad input) is the last
            # line of its log: say it here rather than only where to look.
            with open(log_path) as log:
                lines = [line.rstrip() for line in log if line.strip()]
            last = f": {lines[-1]}" if lines else ""
            fail(f"run {name} failed (exit {status}){last}; the whole log: {log_path}")
        write_atomic(record, json.dumps({"command": shown, **provenance}, indent=1) + "\n")
    return summary(name)


def summary(name):
    """The epoch chosen on validation (the one model.bin holds) and the run's details."""
    out = os.path.join(RUNS, name)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        epochs = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(out, "run.json")) as f:
        run = json.load(f)
    key = "validation_accuracy" if config["validation_size"] > 0 else "train_accuracy"
    best = max(epochs, key=lambda e: (e[key], -e["epoch"]))  # the first best, as the trainer keeps it
    return {"name": name, "config": config, "run": run, "best": best, "epochs": epochs,
            "model": os.path.join(out, "model.bin")}


def evaluate(model, dataset, split="test", threads=None):
    cmd = [BINARY, "eval", "--model", model, "--dataset", dataset, "--split", split, "--json"]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"eval of {model} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def read_csv(path):
    """The rows of a results CSV as dicts; none if the file is not there yet."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, rows, fields):
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=fields)
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in fields})
    write_atomic(path, text.getvalue())


def save_figure(fig, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, path)
