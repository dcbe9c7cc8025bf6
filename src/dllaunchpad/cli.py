"""`dllaunchpad`: the command line that every Snakemake rule and DVC stage calls.

    dllaunchpad list                      experiments, datasets and what has been produced
    dllaunchpad validate                  check params.yaml against the schema
    dllaunchpad fetch <dataset>           download + verify into data/raw/<dataset>
    dllaunchpad prepare <dataset>         data/raw -> data/processed/<dataset>
    dllaunchpad train <experiment>        models/<experiment>/, reports/history/<experiment>.csv
    dllaunchpad evaluate <experiment>     reports/metrics/<experiment>.json, reports/figures/<experiment>/
    dllaunchpad generate <experiment>     reports/music/<experiment>/ (entries with a generate: block)
    dllaunchpad compare <entry>           reports/comparisons/<entry>/: the entry's variants side by side
    dllaunchpad report                    reports/index.html + reports/experiments/<experiment>.html
    dllaunchpad report --compare A [B..]  runs side by side (git revisions, DVC experiments, workspace):
                                          params diff, metrics with differences, curves overlaid
    dllaunchpad predict <exp> <image.png> an MNIST classifier's softmax scores for a 28x28 digit PNG,
                                          or the denoising autoencoder's cleaned image (--out)
    dllaunchpad run [--cores N] [...]     run the Snakemake workflow: all, or the given experiments
                                          (their data, training, evaluation, then the report pages),
                                          files, rules and other snakemake options
    dllaunchpad dvc-yaml [--check]        regenerate dvc.yaml from the registry (or check it is fresh)
    dllaunchpad dvc-sync                  after dvc pull/checkout/repro: mark what DVC vouches for as
                                          done for Snakemake too (file times in DAG order, metadata)
    dllaunchpad stage-inputs              write each dvc.yaml stage's slice of params.yaml and code
                                          manifest (data/params/, data/code/: DVC's first stage)

Every command reads ./params.yaml (or --params) and validates it first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dllaunchpad.pipeline.config import ParamsError, load_params
from dllaunchpad.pipeline.registry import REPORT_HTML, Registry

log = logging.getLogger("dllaunchpad")


def _registry(args) -> tuple[dict, Registry]:
    params = load_params(path=args.params, scale=args.scale)
    reg = Registry.from_params(params)
    if args.command in _JOB_COMMANDS:
        pin_threads(args.threads or reg.threads, computes=args.command in _COMPUTING_COMMANDS)
    return params, reg


# The variables the BLAS and OpenMP runtimes read when they load.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pin_threads(n: int, computes: bool = False) -> None:
    """Compute this job on exactly `n` threads, whoever started it. A result's last float bits
    depend on the thread count (a reduction split over more threads adds in another order), and
    the launchers differ: Snakemake sets OMP_NUM_THREADS to a job's threads, `dvc repro` sets
    nothing, so torch would take every core. The variables reach the BLAS of what has not loaded
    yet; torch is set directly (it reads OMP_NUM_THREADS at import but caps it at the core
    count), and threadpoolctl reaches the BLAS that a warm server (warm.py) loaded before the
    job. A job that `computes` loads torch here; the others (fetch, report) stay torch-free."""
    for var in _THREAD_VARIABLES:
        os.environ[var] = str(n)
    if computes or "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)  # for good: the job's process ends with the job


def cmd_validate(args) -> int:
    params, reg = _registry(args)
    print(f"{args.params}: valid (scale {params['scale']}, {len(reg.datasets)} datasets, "
          f"{len(reg.experiments)} experiments)")
    return 0


def _made_at(exp, done: bool) -> str:
    """The scale that made this experiment's outputs on disk: what evaluate recorded in
    reports/figures/<exp>/run.json (when its metrics are there), else what training recorded in
    models/<exp>/train.json; "?" for outputs that record none (made before the scale was
    recorded), "" when there are none."""
    files = ([Path(exp.run_file)] if done else []) + [Path(exp.model_dir) / "train.json"]
    found = False
    for path in files:
        try:
            scale = json.loads(path.read_text()).get("scale")
        except (OSError, ValueError, AttributeError):
            continue
        found = True
        if scale:
            return str(scale)
    return "?" if found or done else ""


def cmd_list(args) -> int:
    params, reg = _registry(args)
    print(f"scale: {params['scale']} (of the settings; 'made' is the scale of the outputs on disk, "
          f"'!' where it differs)")
    print("datasets:")
    for ds in reg.datasets.values():
        state = "prepared" if (Path(ds.processed_dir) / "summary.json").exists() else (
            "fetched" if Path(ds.raw_dir).exists() else "-")
        print(f"  {ds.name:<18} {state:<9} {ds.description}")
    for name in reg.skipped_datasets:
        print(f"  {name:<18} skipped   (skip_datasets)")
    from dllaunchpad.report.build import chapter_values
    from dllaunchpad.report.collect import headline, status

    values = chapter_values()
    print(f"{'experiments:':<{2 + 24 + 1 + 10 + 1 + 8 + 1}}made")  # over the column of `made` below
    other_scale = []
    for exp in reg.experiments.values():
        st = status(exp, reg, Path("."), params["scale"])
        made = _made_at(exp, st.key == "done")
        if made not in ("", "?", params["scale"]):
            other_scale.append(exp.name)
            made += "!"
        result = ""
        if st.key == "done":
            best = headline(json.loads(Path(exp.metrics).read_text()), list(values.get(exp.name, {}).get("values", {})),
                            exp.spec.get("headline"))
            result = f"{best[0]}={best[1]}" if best else ""
        elif st.key == "failed":
            result = st.hint
        print(f"  {exp.name:<24} {st.label:<10} {exp.chapter:<8} {made:<6} {result:<32} {exp.title}")
    for name in reg.skipped_experiments:
        spec = params["experiments"][name]
        print(f"  {name:<24} {'left out':<10} {spec['chapter']:<8} {'':<6} "
              f"{'(' + spec['dataset'] + ' in skip_datasets)':<32} {spec['title']}")
    if other_scale:
        print(f"! {len(other_scale)} experiment(s) on disk were made at another scale than {params['scale']}: "
              f"{', '.join(other_scale)}; their results are not this scale's (`dllaunchpad "
              f"{'--scale quick ' if params['scale'] == 'quick' else ''}run <experiment>` remakes one)")
    print(f"run one: dllaunchpad {'--scale quick ' if params['scale'] == 'quick' else ''}run <experiment>; "
          f"the report: {REPORT_HTML}")
    return 0


def cmd_fetch(args) -> int:
    params, reg = _registry(args)
    if reg.dataset(args.dataset).kind:  # unknown/skipped -> clear error; a local folder: copied
        from dllaunchpad.datasets.own_data import main_fetch_folder

        m = main_fetch_folder(args.dataset, params)
        print(f"{args.dataset}: {m['counts']['files']} file(s) from {m['folder']} copied and hashed into "
              f"data/raw/{args.dataset} ({m['counts']['skipped']} skipped; see its manifest.json)")
        return 0
    from dllaunchpad.datasets.fetch import main_fetch

    paths = main_fetch(args.dataset, params, progress=_progress())
    print(f"{args.dataset}: {len(paths)} file(s) verified in data/raw/{args.dataset}")
    return 0


def cmd_prepare(args) -> int:
    params, reg = _registry(args)  # first: it pins the threads before torch loads
    from dllaunchpad.datasets import prepare

    ds = reg.dataset(args.dataset)
    summary = prepare(ds.name, Path(ds.raw_dir), Path(ds.processed_dir), ds.spec["preprocess"], kind=ds.kind)
    print(f"{ds.name}: prepared into {ds.processed_dir}: {summary}")
    return 0


def cmd_train(args) -> int:
    params, reg = _registry(args)  # first: it pins the threads before torch loads
    from dllaunchpad.runners.train import train

    info = train(reg.experiment(args.experiment), progress=_progress(), stage=reg.stages().get(f"train_{args.experiment}"))
    print(f"{args.experiment}: trained on {info['device']} in {info['train_seconds']:.1f} s")
    return 0


def cmd_evaluate(args) -> int:
    params, reg = _registry(args)  # first: it pins the threads before torch loads
    from dllaunchpad.runners.evaluate import evaluate

    metrics = evaluate(reg.experiment(args.experiment), stage=reg.stages().get(f"evaluate_{args.experiment}"))
    print(f"{args.experiment}: {metrics}")
    return 0


def cmd_generate(args) -> int:
    params, reg = _registry(args)  # first: it pins the threads before torch loads
    from dllaunchpad.runners.generate import generate

    summary = generate(reg.experiment(args.experiment))
    print(f"{args.experiment}: wrote {len(summary['tracks'])} track(s) into {reg.experiment(args.experiment).generated_dir}")
    return 0


def cmd_compare(args) -> int:
    params, reg = _registry(args)  # first: it pins the threads before torch loads
    from dllaunchpad.runners.compare import compare

    if args.entry not in reg.comparisons:
        raise KeyError(f"{args.entry!r} declares no variants; entries with variants: {', '.join(reg.comparisons) or 'none'}")
    summary = compare(reg.comparisons[args.entry], reg)
    print(f"{args.entry}: {len(summary['rows'])} variant(s) compared into {reg.comparisons[args.entry].out_dir}\n"
          f"{summary['answer']}")
    return 0


def cmd_report(args) -> int:
    params, reg = _registry(args)
    if args.compare:
        from dllaunchpad.report.runs import compare_runs

        runs = args.compare if len(args.compare) > 1 else [*args.compare, "workspace"]
        path = compare_runs(runs, out=Path(args.out) if args.out else None)
        print(f"report --compare: {' vs '.join(runs)} in {path}")
        return 0
    if args.out:
        raise ValueError("report --out names the page of --compare; the report itself is always reports/index.html")
    from dllaunchpad.pipeline.config import read_params
    from dllaunchpad.report.build import build_report

    path = build_report(params, reg, raw_params=read_params(args.params))
    print(f"report: {path} and {len(reg.stage('report').outputs) - 1} experiment pages in reports/experiments/")
    return 0


def _experiment_targets(targets: list[str], reg: Registry, params: dict, unavailable: list[str]) -> tuple[list, list]:
    """`run xor` -> xor's results (the outputs of its evaluate and generate stages, from the stage
    table), `run mnist` -> the prepared dataset. Returns (targets for Snakemake, the experiment
    names among them). Anything else (files, rules, options) passes through unchanged."""
    from dllaunchpad.pipeline.stages import targets_of

    out, names = [], []
    for t in targets:
        spec = params["experiments"].get(t)
        if spec is not None and (t in reg.skipped_experiments or spec.get("dataset") in unavailable):
            raise KeyError(f"experiment {t!r} needs dataset {spec['dataset']!r}, which is left out (skip_datasets, "
                           f"or missing from the mirror); unset LAUNCHPAD_MIRROR and remove it from skip_datasets "
                           f"in params.yaml to download it")
        found = targets_of(reg, t)
        out += found if found is not None else [t]
        if t in reg.experiments:
            names.append(t)
    return out, names


def cmd_predict(args) -> int:
    from dllaunchpad.runners.predict import predict

    params, reg = _registry(args)
    print(predict(reg.experiment(args.experiment), args.image, resize=args.resize, out=args.out,
                  noise=args.noise, seed=args.seed))
    return 0


def cmd_run(args) -> int:
    """Snakemake, plus one convenience: with a local mirror that lacks a dataset (the shared
    mirror has no RPS), that dataset is left out, loudly, rather than failing the whole run."""
    from dllaunchpad.datasets.fetch import datasets_missing_from_mirror, mirror_from_env

    params, reg = _registry(args)
    # `.venv/bin/dllaunchpad run` without an activated venv (the README's first command): the
    # venv's tools are beside this interpreter, and Snakemake's jobs (`dllaunchpad ...`) and its
    # onsuccess handler (`dvc commit`) find them through PATH, so put that folder first.
    tools = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join(filter(None, [tools, os.environ.get("PATH")]))}
    exe = shutil.which("snakemake", path=env["PATH"])
    if exe is None:
        raise FileNotFoundError(f"snakemake is neither in {tools} nor on PATH; install the project (see README)")
    mirror = mirror_from_env(params.get("mirror"))
    missing = datasets_missing_from_mirror(reg.datasets, mirror)
    config = [f"scale={params['scale']}"]
    if missing:
        skip = sorted(set(reg.skipped_datasets) | set(missing))
        print(f"note: the mirror {mirror} has no copy of {', '.join(missing)}: leaving "
              f"{'it' if len(missing) == 1 else 'them'} out (skip_datasets={skip}). Unset "
              f"LAUNCHPAD_MIRROR to download from the canonical URLs instead.", file=sys.stderr)
        config.append("skip_datasets=[" + ",".join(skip) + "]")
    targets, names = _experiment_targets(args.targets, reg, params, missing)
    # Targets first: --config takes every word after it as a name=value pair.
    cmd = [exe, *targets, "--cores", str(args.cores), "--config", *config]
    dry_run = bool({"-n", "--dry-run", "--dryrun"} & set(targets))
    if dry_run:
        from dllaunchpad.pipeline.dvc_yaml import KEEP_ENV

        env[KEEP_ENV] = "keep"  # a dry run changes nothing, dvc.yaml included
    print("+ " + " ".join(cmd), flush=True)
    rc = _call_snakemake(cmd, env, dry_run=dry_run, args=args)
    if rc == 0 and names and not dry_run:
        # The report rule needs every experiment; after a run of some, rewrite the pages from
        # what exists (the others say "not run").
        from dllaunchpad.pipeline.config import read_params
        from dllaunchpad.report.build import build_report, page_path

        skipped = sorted(set(reg.skipped_datasets) | set(missing))
        params = load_params(path=args.params, scale=args.scale, skip_datasets=skipped)
        build_report(params, Registry.from_params(params), raw_params=read_params(args.params))
        print(f"report: {REPORT_HTML}; " + ", ".join(page_path(n) for n in names))
    return rc


def warm_server_command(params: str = "params.yaml") -> list[str]:
    """The command that starts a warm server (warm.py) for jobs that read `params`."""
    return [sys.executable, "-m", "dllaunchpad.cli", "--params", params, "warm-server"]


def _call_snakemake(cmd: list[str], env: dict, dry_run: bool, args) -> int:
    """Snakemake's exit status. A local run that executes jobs gets a warm server first (warm.py):
    each job then forks from an interpreter that has imported torch and Lightning already."""
    from dllaunchpad import warm

    why_not = "a dry run" if dry_run else warm.usable(cmd)
    if why_not is not None:
        return subprocess.call(cmd, env=env)
    with warm.started(warm_server_command(args.params), env, Path("logs") / "warm-server.log") as socket_path:
        if socket_path:
            env = {**env, warm.ENV: socket_path}
        return subprocess.call(cmd, env=env)


def cmd_dvc_yaml(args) -> int:
    """dvc.yaml for params.yaml, or for a mode (`--scale quick`, `--skip-datasets rps`) that a
    DVC-only user wants `dvc repro` to run without editing params.yaml."""
    from dllaunchpad.pipeline.config import read_params
    from dllaunchpad.pipeline.dvc_yaml import mode_of, render

    wanted = {"scale": args.scale} if args.scale else {}
    if args.skip_datasets is not None:
        wanted["skip_datasets"] = [d for d in args.skip_datasets.split(",") if d]
    text = render(mode=mode_of(wanted, read_params(args.params)))
    path = Path("dvc.yaml")
    if args.check:
        if not path.exists() or path.read_text() != text:
            print("dvc.yaml is out of date with params.yaml: run `dllaunchpad dvc-yaml`", file=sys.stderr)
            return 1
        print("dvc.yaml is up to date")
        return 0
    from dllaunchpad.io import write_text

    write_text(path, text)
    print("wrote dvc.yaml")
    return 0


def cmd_stage_inputs(args) -> int:
    from dllaunchpad.pipeline.dvc_yaml import write_stage_inputs
    from dllaunchpad.pipeline.stage_inputs import CODE_DIR, PARAMS_DIR

    _registry(args)  # validate params.yaml first, like every command
    written = write_stage_inputs(params=args.params)
    print(f"stage-inputs: {written} file(s) rewritten in {PARAMS_DIR}/ and {CODE_DIR}/")
    return 0


def cmd_dvc_sync(args) -> int:
    from dllaunchpad.pipeline.agreement import sync_snakemake

    _registry(args)  # validate params.yaml first, like every command
    vouched = sync_snakemake(Path("."))
    print(f"dvc-sync: {len(vouched)} stage(s) up to date in DVC are up to date for Snakemake too")
    return 0


def _progress() -> bool:
    from dllaunchpad.progress import progress_enabled

    return progress_enabled()


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of threads >= 1, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dllaunchpad", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n")[1])
    p.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    p.add_argument("--scale", choices=["full", "quick"], help="override params.yaml's scale")
    p.add_argument("--threads", type=_positive_int, metavar="N",
                   help="threads a job computes on (default: params.yaml threads; stage commands pass it)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", metavar="command")

    sub.add_parser("list", help="experiments, datasets and their status").set_defaults(fn=cmd_list)
    sub.add_parser("validate", help="check params.yaml").set_defaults(fn=cmd_validate)
    for name, fn, arg in [("fetch", cmd_fetch, "dataset"), ("prepare", cmd_prepare, "dataset"),
                          ("train", cmd_train, "experiment"), ("evaluate", cmd_evaluate, "experiment"),
                          ("generate", cmd_generate, "experiment")]:
        sp = sub.add_parser(name, help=f"{name} one {arg}")
        sp.add_argument(arg)
        sp.set_defaults(fn=fn)
    sp = sub.add_parser("compare", help="put an entry's variants side by side (reports/comparisons/<entry>/)")
    sp.add_argument("entry", help="an experiment entry with a variants: block")
    sp.set_defaults(fn=cmd_compare)
    sp = sub.add_parser("report", help="build reports/index.html and reports/experiments/*.html")
    sp.add_argument("--compare", nargs="+", metavar="RUN",
                    help="instead: put runs side by side in one page (reports/runs/<A>_vs_<B>.html); a run is "
                         "'workspace', a git revision or a DVC experiment's name; one run is compared with the workspace")
    sp.add_argument("--out", help="where --compare writes its page")
    sp.set_defaults(fn=cmd_report)
    sp = sub.add_parser("predict", help="classify a 28x28 digit PNG, or denoise it with the autoencoder")
    sp.add_argument("experiment", help="an MNIST classifier (e.g. mnist_cnn) or a denoising autoencoder")
    sp.add_argument("image", help="28x28 grayscale PNG, white digit on black")
    sp.add_argument("--resize", action="store_true", help="convert other sizes/modes to 28x28 grayscale")
    sp.add_argument("--out", help="autoencoder: where to write the cleaned PNG (default: <image>.denoised.png)")
    sp.add_argument("--noise", type=float, default=0.0,
                    help="add this factor times N(0, 1) noise first (the chapter's exercise uses 0.28)")
    sp.add_argument("--seed", type=int, default=0, help="seed of --noise")
    sp.set_defaults(fn=cmd_predict)
    sp = sub.add_parser("run", help="run the Snakemake workflow")
    sp.add_argument("targets", nargs="*",
                    help=f"experiment names, files or rules (default: all, ending in {REPORT_HTML}) and other "
                         f"snakemake options")
    sp.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    sp.set_defaults(fn=cmd_run)
    sp = sub.add_parser("dvc-yaml", help="regenerate dvc.yaml from params.yaml")
    sp.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml is stale")
    sp.add_argument("--skip-datasets", metavar="A,B", help="leave these datasets out (as skip_datasets), e.g. rps "
                    "offline; with the global --scale, the mode `dvc repro` then runs")
    sp.set_defaults(fn=cmd_dvc_yaml)
    sub.add_parser("stage-inputs", help="write each DVC stage's slice of params.yaml and code manifest "
                   "(data/params/, data/code/: the stage_inputs stage)").set_defaults(fn=cmd_stage_inputs)
    sub.add_parser("dvc-sync", help="after dvc pull/checkout/repro: tell Snakemake what DVC vouches for"
                   ).set_defaults(fn=cmd_dvc_sync)
    # Internal: the warm interpreter `run` starts for local jobs (warm.py); not listed in --help.
    sp = sub.add_parser("warm-server")
    sp.add_argument("socket")
    sp.set_defaults(fn=cmd_warm_server)
    return p


@contextlib.contextmanager
def _private_tmpdir():
    """Run a command with its own temporary folder (TMPDIR), removed when it ends: concurrent
    jobs never share a temporary path (tensorflow-datasets makes temporary folders while it
    prepares), and nothing is left behind."""
    import tempfile

    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="dllaunchpad-") as tmp:
        os.environ["TMPDIR"], tempfile.tempdir = tmp, tmp
        try:
            yield
        finally:
            tempfile.tempdir = saved[1]
            if saved[0] is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = saved[0]


def cmd_warm_server(args) -> int:
    """Serve the jobs of one local run from a warm interpreter (warm.py): `run` starts it."""
    from dllaunchpad import warm

    warm.serve(args.socket, entry=main, preload=_preload)
    return 0


def _preload() -> None:
    """What the warm server imports before it forks: torch, Lightning, matplotlib (Agg, as the
    figures use it) and every module of the package, so that a job imports nothing heavy."""
    import importlib
    import pkgutil

    import matplotlib

    matplotlib.use("Agg")
    import lightning.pytorch  # noqa: F401
    import torch  # noqa: F401

    import dllaunchpad

    for mod in pkgutil.walk_packages(dllaunchpad.__path__, "dllaunchpad."):
        try:
            importlib.import_module(mod.name)
        except Exception as exc:  # noqa: BLE001 - a job that needs it imports it (and fails) itself
            print(f"warm server: {mod.name} not preloaded: {exc}", file=sys.stderr)


# The steps a Snakemake job or a DVC stage runs: in a local run, a warm server runs them.
_JOB_COMMANDS = {"fetch", "prepare", "train", "evaluate", "generate", "compare", "report"}
# The steps whose results depend on the thread count: their stage commands pin it (stages.py).
_COMPUTING_COMMANDS = {"train", "evaluate", "generate"}


def main(argv: list[str] | None = None) -> int:
    p = parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    # `run` hands unknown options (-n, --keep-going, ...) on to snakemake; elsewhere they are errors.
    args, extra = p.parse_known_args(argv)
    if extra and getattr(args, "fn", None) is not cmd_run:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.targets = [*args.targets, *extra]
    if not getattr(args, "fn", None):
        p.print_help()
        return 0
    if args.fn is cmd_warm_server:  # no logging set-up or private TMPDIR: its children do their own
        return cmd_warm_server(args)
    if args.command in _JOB_COMMANDS:
        from dllaunchpad import warm

        code = warm.delegate(argv)  # None: no warm server (the usual case), so run it here
        if code is not None:
            return code
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with _private_tmpdir():
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
