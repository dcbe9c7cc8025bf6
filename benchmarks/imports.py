"""Benchmark 4 (part): what each entry point imports before it does anything.

Every Snakemake job starts a fresh `dllaunchpad <command>` process, so import time is paid per
job, and the Snakefile itself imports the package to read the registry. For each entry point:
the wall time of a fresh interpreter starting and importing what the command needs (best of
--repeat; the first row is the interpreter alone), and which heavy libraries (torch, lightning, matplotlib, tensorflow_datasets, pandas, jsonschema)
come with it. Cheap commands are run whole, so that an import made while running (not only at
the top of a module) counts: `fetch` once took 4 s because asking whether to draw progress bars
imported the training module, and with it Lightning. A command that does not need one must not pull it in: the registry, `fetch` and
`list` stay torch-free; only training and evaluation load torch.

Training and evaluation pay for Lightning (~2 s here): `lightning.fabric.wrappers` imports
`torch._dynamo`, which brings sympy and, through sympy's plotting, matplotlib. Their modules
subclass LightningModule, so they cannot avoid it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from common import REPO, Row, ensure_prepared, finish, mirror_env, parser

HEAVY = ["torch", "lightning", "matplotlib", "tensorflow_datasets", "pandas", "jsonschema"]
# entry point -> Python that runs it in a fresh interpreter: whole commands where they are cheap
# to run here (what a Snakemake job pays), imports where the command itself would do real work
_CLI = "import sys; from dllaunchpad.cli import main; main({argv!r})"
ENTRY_POINTS = {
    "python interpreter alone": "pass",
    "Snakefile / dvc-yaml: the registry": "from dllaunchpad.pipeline.config import load_params; "
                                          "from dllaunchpad.pipeline.registry import Registry; Registry.from_params(load_params())",
    "dllaunchpad validate (run)": _CLI.format(argv=["validate"]),
    "dllaunchpad list (run)": _CLI.format(argv=["list"]),
    "dllaunchpad fetch iris (run, files present)": _CLI.format(argv=["fetch", "iris"]),
    "dllaunchpad prepare (imports)": "import dllaunchpad.cli, dllaunchpad.datasets, dllaunchpad.datasets.mnist",
    "dllaunchpad train (imports)": "import dllaunchpad.cli, dllaunchpad.runners.train, dllaunchpad.experiments.mlp_classifier",
    "dllaunchpad evaluate (imports)": "import dllaunchpad.cli, dllaunchpad.runners.evaluate, "
                                      "dllaunchpad.experiments.mlp_classifier",
    "dllaunchpad report (imports)": "import dllaunchpad.cli, dllaunchpad.report.build",
}


def probe(statement: str, repeat: int) -> tuple[float, list[str]]:
    """(best wall seconds of `python -c statement`, the heavy modules it loaded)."""
    code = f"{statement}\nimport sys, json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    best, heavy = float("inf"), []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=mirror_env(), capture_output=True,
                             text=True, check=True)
        best = min(best, time.perf_counter() - t0)
        heavy = json.loads(out.stdout.strip().splitlines()[-1])
    return best, heavy


def main(args) -> list[Row]:
    ensure_prepared("iris")
    rows = []
    for name, statement in ENTRY_POINTS.items():
        t, heavy = probe(statement, args.repeat)
        rows.append(Row("4 imports", name, t * 1000, "ms", note="pulls in: " + (", ".join(heavy) or "nothing heavy")))
    return rows


if __name__ == "__main__":
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    finish(main(args), args)
