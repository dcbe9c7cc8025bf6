"""`dllaunchpad`: the command line that every Snakemake rule and DVC stage calls.

    dllaunchpad list                      experiments, datasets and what has been produced
    dllaunchpad validate                  check params.yaml against the schema
    dllaunchpad fetch <dataset>           download + verify into data/raw/<dataset>
    dllaunchpad prepare <dataset>         data/raw -> data/processed/<dataset>
    dllaunchpad train <experiment>        models/<experiment>/, reports/history/<experiment>.csv
    dllaunchpad evaluate <experiment>     reports/metrics/<experiment>.json, reports/figures/<experiment>/
    dllaunchpad report                    reports/index.html
    dllaunchpad run [--cores N] [...]     run the Snakemake workflow (all, or the given targets/options)
    dllaunchpad dvc-yaml [--check]        regenerate dvc.yaml from the registry (or check it is fresh)

Every command reads ./params.yaml (or --params) and validates it first.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .config import ParamsError, load_params
from .registry import REPORT_HTML, Registry

log = logging.getLogger("dllaunchpad")


def _registry(args) -> tuple[dict, Registry]:
    params = load_params(path=args.params, scale=args.scale)
    return params, Registry.from_params(params)


def cmd_validate(args) -> int:
    params, reg = _registry(args)
    print(f"{args.params}: valid (scale {params['scale']}, {len(reg.datasets)} datasets, "
          f"{len(reg.experiments)} experiments)")
    return 0


def cmd_list(args) -> int:
    params, reg = _registry(args)
    print(f"scale: {params['scale']}")
    print("datasets:")
    for ds in reg.datasets.values():
        state = "prepared" if (Path(ds.processed_dir) / "summary.json").exists() else (
            "fetched" if Path(ds.raw_dir).exists() else "-")
        print(f"  {ds.name:<18} {state:<9} {ds.spec['description']}")
    for name in reg.skipped_datasets:
        print(f"  {name:<18} skipped   (skip_datasets)")
    print("experiments:")
    for exp in reg.experiments.values():
        state = "evaluated" if Path(exp.metrics).exists() else ("trained" if Path(exp.checkpoint).exists() else "-")
        print(f"  {exp.name:<18} {state:<9} {exp.chapter:<7} {exp.title}")
    for name in reg.skipped_experiments:
        print(f"  {name:<18} skipped   (its dataset is in skip_datasets)")
    return 0


def cmd_fetch(args) -> int:
    from .fetch import main_fetch

    params, reg = _registry(args)
    reg.dataset(args.dataset)  # unknown/skipped -> clear error
    paths = main_fetch(args.dataset, params, progress=_progress())
    print(f"{args.dataset}: {len(paths)} file(s) verified in data/raw/{args.dataset}")
    return 0


def cmd_prepare(args) -> int:
    from .datasets import prepare

    params, reg = _registry(args)
    ds = reg.dataset(args.dataset)
    summary = prepare(ds.name, Path(ds.raw_dir), Path(ds.processed_dir), ds.spec["preprocess"])
    print(f"{ds.name}: prepared into {ds.processed_dir}: {summary}")
    return 0


def cmd_train(args) -> int:
    from .train import train

    params, reg = _registry(args)
    info = train(reg.experiment(args.experiment), params, progress=_progress())
    print(f"{args.experiment}: trained on {info['device']} in {info['train_seconds']:.1f} s")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate

    params, reg = _registry(args)
    metrics = evaluate(reg.experiment(args.experiment), params)
    print(f"{args.experiment}: {metrics}")
    return 0


def cmd_report(args) -> int:
    from .report.build import build_report

    params, reg = _registry(args)
    path = build_report(params, reg)
    print(f"report: {path}")
    return 0


def cmd_run(args) -> int:
    """Snakemake, plus one convenience: with a local mirror that lacks a dataset (the shared
    mirror has no RPS), that dataset is left out, loudly, rather than failing the whole run."""
    from .fetch import datasets_missing_from_mirror, mirror_from_env

    params, reg = _registry(args)
    exe = shutil.which("snakemake")
    if exe is None:
        raise FileNotFoundError("snakemake is not on PATH; install the project (see README)")
    mirror = mirror_from_env(params.get("mirror"))
    missing = datasets_missing_from_mirror(reg.datasets, mirror)
    config = [f"scale={params['scale']}"]
    if missing:
        skip = sorted(set(reg.skipped_datasets) | set(missing))
        print(f"note: the mirror {mirror} has no copy of {', '.join(missing)}: leaving "
              f"{'it' if len(missing) == 1 else 'them'} out (skip_datasets={skip}). Unset "
              f"LAUNCHPAD_MIRROR to download from the canonical URLs instead.", file=sys.stderr)
        config.append("skip_datasets=[" + ",".join(skip) + "]")
    cmd = [exe, "--cores", str(args.cores), "--config", *config, *args.targets]
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd)


def cmd_dvc_yaml(args) -> int:
    from .dvc_yaml import render

    text = render()
    path = Path("dvc.yaml")
    if args.check:
        if not path.exists() or path.read_text() != text:
            print("dvc.yaml is out of date with params.yaml: run `dllaunchpad dvc-yaml`", file=sys.stderr)
            return 1
        print("dvc.yaml is up to date")
        return 0
    from .io import write_text

    write_text(path, text)
    print("wrote dvc.yaml")
    return 0


def _progress() -> bool:
    from .train import progress_enabled

    return progress_enabled()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dllaunchpad", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[2:12]))
    p.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    p.add_argument("--scale", choices=["full", "quick"], help="override params.yaml's scale")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", metavar="command")

    sub.add_parser("list", help="experiments, datasets and their status").set_defaults(fn=cmd_list)
    sub.add_parser("validate", help="check params.yaml").set_defaults(fn=cmd_validate)
    for name, fn, arg in [("fetch", cmd_fetch, "dataset"), ("prepare", cmd_prepare, "dataset"),
                          ("train", cmd_train, "experiment"), ("evaluate", cmd_evaluate, "experiment")]:
        sp = sub.add_parser(name, help=f"{name} one {arg}")
        sp.add_argument(arg)
        sp.set_defaults(fn=fn)
    sub.add_parser("report", help="build reports/index.html").set_defaults(fn=cmd_report)
    sp = sub.add_parser("run", help="run the Snakemake workflow")
    sp.add_argument("targets", nargs="*",
                    help=f"targets (files or rules; default: all, ending in {REPORT_HTML}) and other snakemake options")
    sp.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    sp.set_defaults(fn=cmd_run)
    sp = sub.add_parser("dvc-yaml", help="regenerate dvc.yaml from params.yaml")
    sp.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml is stale")
    sp.set_defaults(fn=cmd_dvc_yaml)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    # `run` hands unknown options (-n, --keep-going, ...) on to snakemake; elsewhere they are errors.
    args, extra = p.parse_known_args(argv)
    if extra and getattr(args, "fn", None) is not cmd_run:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.targets = [*args.targets, *extra]
    if not getattr(args, "fn", None):
        p.print_help()
        return 0
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, FileNotFoundError, RuntimeError, ValueError) as exc:
        if args.verbose:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
