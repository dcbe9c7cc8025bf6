"""The compare stage: an entry's variants side by side (``compare_<entry>``).

Reads every variant's ``reports/metrics/<variant>.json`` and ``run.json`` (wall time), and writes
``reports/comparisons/<entry>/`` (built in a temporary folder, swapped in whole):

- ``comparison.json``: one row per variant (its settings, seed, metrics, wall time), one group per
  setting with the seed spread (mean, sd, min, max, success rate: analysis/spread.py), the best
  setting, which differences from it are larger than the seed spread, and a one-paragraph answer
  drawn from those numbers;
- ``variants.csv``, the rows as a table;
- ``metric.png`` (the chosen metric against the swept setting, every seed as a dot, the mean with
  its spread) and ``wall_time.png``.

``compare: {baseline: <metrics key>}`` names a reference every run computes beside its metric
(the naive forecast's MAE of a forecaster): each group then counts the runs whose metric beats
that run's baseline value, the answer says which settings beat it, and metric.png draws it.

The report renders ``reports/comparisons/<entry>.html`` from it.
"""

from __future__ import annotations

import csv
import io as _io
import json
import math

from dllaunchpad import io
from dllaunchpad.analysis import spread
from dllaunchpad.pipeline.registry import Comparison, Registry

SUMMARY = "comparison.json"


def _setting_key(exp) -> str:
    """The variant's settings without its seed (what the seeds repeat): a named variant's name,
    else its overrides."""
    if exp.variant_name:
        return exp.variant_name
    o = {k: v for k, v in exp.overrides.items() if k != "seed"}
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in o.items()) or "(as the entry)"


def _wall_time(run: dict) -> float | None:
    parts = [run.get(k) for k in ("train_seconds", "evaluate_seconds")]
    parts = [p for p in parts if isinstance(p, (int, float))]
    return round(sum(parts), 3) if parts else None


def _number(v) -> float | None:
    if isinstance(v, bool):
        return float(v)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def _keys(cmp: Comparison) -> list[str]:
    """The metrics a comparison reads: `metric`, or the values of `across`, then `also`."""
    across = list((cmp.compare.get("across") or {}).values())
    baseline = [cmp.compare["baseline"]] if cmp.compare.get("baseline") else []
    return list(dict.fromkeys(([cmp.compare["metric"]] if "metric" in cmp.compare else []) + baseline + across +
                              list(cmp.compare.get("also", []))))


def rows_of(cmp: Comparison, reg: Registry) -> list[dict]:
    keys = _keys(cmp)
    rows = []
    for name in cmp.variants:
        exp = reg.experiments[name]
        path = exp.path(exp.metrics)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: variant {name} has no metrics; run `dllaunchpad run {name}` first")
        metrics = json.loads(path.read_text())
        missing = [k for k in keys if k not in metrics]
        if missing:
            raise KeyError(f"compare_{cmp.name}: variants.compare names {missing}, not metrics of {name}; "
                           f"it has {sorted(metrics)}")
        run_file = exp.path(exp.run_file)
        run = json.loads(run_file.read_text()) if run_file.is_file() else {}
        rows.append({"variant": name, "setting": _setting_key(exp),
                     "overrides": {k: v for k, v in exp.overrides.items() if k != "seed"},
                     "seed": exp.seed, **{k: _number(metrics.get(k)) for k in keys},
                     "wall_seconds": _wall_time(run)})
    return rows


def groups_across(rows: list[dict], across: dict, success: dict | None) -> list[dict]:
    """One group per compared metric (the variants inside one experiment: the GAN's stabilisers,
    greedy vs beam search), each summarised over the seeds the entry's variants repeat."""
    out = []
    for label, key in across.items():
        values = [r[key] for r in rows if r[key] is not None]
        s = spread.summary(values, success) if values else None
        out.append({"setting": label, "metric": key, "overrides": {}, "variants": [r["variant"] for r in rows],
                    "seeds": [r["seed"] for r in rows], "summary": s.as_dict() if s else None,
                    "values": [r[key] for r in rows],  # run by run (None: missing): for the paired test
                    "wall_seconds_mean": _mean([r["wall_seconds"] for r in rows])})
    return out


def groups_of(rows: list[dict], metric: str, success: dict | None) -> list[dict]:
    order: dict[str, list[dict]] = {}
    for r in rows:
        order.setdefault(r["setting"], []).append(r)
    out = []
    for setting, rs in order.items():
        values = [r[metric] for r in rs if r[metric] is not None]
        s = spread.summary(values, success) if values else None
        out.append({"setting": setting, "overrides": rs[0]["overrides"], "variants": [r["variant"] for r in rs],
                    "seeds": [r["seed"] for r in rs], "summary": s.as_dict() if s else None,
                    "wall_seconds_mean": _mean([r["wall_seconds"] for r in rs])})
    return out


def mark_baseline(groups: list[dict], rows: list[dict], metric: str, baseline: str, goal: str) -> None:
    """Per group (in place): the baseline's mean over its runs and how many runs beat their own
    run's baseline value (strictly: lower for goal min, higher for max)."""
    by_variant = {r["variant"]: r for r in rows}
    for g in groups:
        rs = [by_variant[v] for v in g["variants"]]
        pairs = [(r[metric], r[baseline]) for r in rs if r[metric] is not None and r[baseline] is not None]
        better = [m < b if goal == "min" else m > b for m, b in pairs]
        g["baseline_mean"] = _mean_exact([b for _, b in pairs])
        g["beats_baseline"], g["baseline_runs"] = sum(better), len(better)


def _mean_exact(values):
    return math.fsum(values) / len(values) if values else None


def _mean(values):
    values = [v for v in values if v is not None]
    return round(math.fsum(values) / len(values), 3) if values else None


def _summary(g: dict) -> spread.Summary | None:
    s = g["summary"]
    return None if s is None else spread.Summary(s["n"], s["mean"], s["sd"], s["min"], s["max"], s["successes"])


def judge(groups: list[dict], goal: str) -> int | None:
    """Index of the best group by mean, and each group's verdict against it (in place). Groups
    measured in the same runs (`across`: they carry their values run by run) are compared
    paired by seed, with the mean and sd of their per-run difference from the best."""
    scored = [(i, _summary(g)) for i, g in enumerate(groups) if g["summary"]]
    if not scored:
        return None
    best_i, best = (max if goal == "max" else min)(scored, key=lambda t: t[1].mean)
    for i, s in scored:
        g = groups[i]
        g["best"] = i == best_i
        if i == best_i:
            g["versus_best"] = g["differs_from_best"] = None
        elif "values" in g:
            best_values = groups[best_i]["values"]
            d = spread.paired_differences(g["values"], best_values)
            g["difference_from_best"] = d.as_dict() if d else None
            g["versus_best"] = spread.verdict_paired(g["values"], best_values)
            g["differs_from_best"] = spread.differs_paired(g["values"], best_values)
        else:
            g["versus_best"] = spread.verdict(s, best)
            g["differs_from_best"] = spread.differs(s, best)
    return best_i


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def answer(cmp: Comparison, groups: list[dict], best_i: int | None) -> str:
    """What the numbers say, in sentences built from them (nothing typed by hand)."""
    metric, success = cmp.compare.get("metric") or "value", cmp.compare.get("success")
    if best_i is None:
        return f"No variant produced {metric}."
    best = groups[best_i]
    s = best["summary"]
    n = s["n"]
    goal = "highest" if cmp.compare.get("goal", "max") == "max" else "lowest"
    text = [f"Best ({goal} {metric}): {best['setting']}, {_fmt(s['mean'])}"
            + (f" ± {_fmt(s['sd'])} (sd over {n} seeds)" if s["sd"] is not None else " (one seed)") + "."]
    if success:
        crit = " and ".join(f"{metric} {'≥' if k == 'at_least' else '≤'} {v:g}" for k, v in success.items())
        reliable = [g for g in groups if g["summary"] and g["summary"]["successes"] == g["summary"]["n"]]
        rates = "; ".join(f"{g['setting']}: {g['summary']['successes']}/{g['summary']['n']}"
                          for g in groups if g["summary"])
        text.append(f"Success ({crit}) per setting: {rates}.")
        if reliable:
            first = reliable[0]
            text.append(f"The first setting in the sweep's order that succeeds in every seed: {first['setting']}.")
        else:
            text.append("No setting succeeded in every seed.")
    baseline = cmp.compare.get("baseline")
    if baseline:
        means = [g["baseline_mean"] for g in groups if g.get("baseline_mean") is not None]
        level = f" (mean {_fmt(_mean_exact(means))})" if means else ""
        def names(pick):
            return ", ".join(f"{g['setting']} ({g['beats_baseline']}/{g['baseline_runs']})" for g in groups
                             if g.get("baseline_runs") and pick(g)) or "no setting"
        text.append(f"Against the baseline {baseline}{level}: better in every run: "
                    f"{names(lambda g: g['beats_baseline'] == g['baseline_runs'])}; in some runs: "
                    f"{names(lambda g: 0 < g['beats_baseline'] < g['baseline_runs'])}; in no run: "
                    f"{names(lambda g: g['beats_baseline'] == 0)}.")
    within = [g["setting"] for g in groups if g.get("differs_from_best") is False]
    if within:
        text.append(f"Within the seed spread of the best (not a real difference): {', '.join(within)}.")
    elif all(g["summary"] is None or g["summary"]["n"] < 2 for g in groups):
        text.append("Each setting ran with one seed, so no difference can be told from seed noise.")
    return " ".join(text)


def _x_value(g: dict, x: str | None):
    value = g["overrides"].get(x) if x else g["setting"]
    # A named variant that replaces a whole block (optimizer: {name: sgd, lr: 0.01}) is told by
    # its name: the block itself makes an unreadable tick label.
    return g["setting"] if isinstance(value, dict) else value


def _figures(cmp: Comparison, rows: list[dict], groups: list[dict], out) -> None:
    from dllaunchpad.analysis.figures import OKABE_ITO, pyplot, save

    across = cmp.compare.get("across")
    metric = cmp.compare.get("metric") or "metric"
    x = cmp.compare.get("x") or (cmp.swept[0] if cmp.swept else None)
    if not cmp.compare.get("x") and x and not all(x in g["overrides"] for g in groups):
        x = None  # named variants that set different settings: each is labelled by its name
    labels = [g["setting"] if across else str(_x_value(g, x)) for g in groups]
    plt = pyplot()
    panels = [(metric, "metric.png", metric)] + ([] if across else [("wall_seconds", "wall_time.png", "wall time, s")])
    for key, fname, ylabel in panels:
        fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(groups) + 2), 3.8))
        for i, g in enumerate(groups):
            if across:  # one group per metric, over every run
                ys = [r[g["metric"]] for r in rows if r[g["metric"]] is not None]
            else:
                ys = [r[key] for r in rows if r["setting"] == g["setting"] and r[key] is not None]
            ax.scatter([i] * len(ys), ys, color=OKABE_ITO[0], alpha=0.6, s=22, zorder=3)
            if ys:
                m = math.fsum(ys) / len(ys)
                sd = math.sqrt(math.fsum((y - m) ** 2 for y in ys) / (len(ys) - 1)) if len(ys) > 1 else 0.0
                ax.errorbar([i], [m], yerr=[sd], color=OKABE_ITO[3], marker="_", markersize=18, capsize=4, zorder=4)
        base = [g["baseline_mean"] for g in groups if g.get("baseline_mean") is not None]
        if key == metric and base and not across:
            ax.axhline(math.fsum(base) / len(base), color=OKABE_ITO[5], ls="--", lw=1.2,
                       label=f"baseline {cmp.compare['baseline']}")
            ax.legend(loc="best", fontsize=8)
        ax.set_xticks(range(len(groups)), labels, rotation=30 if max(map(len, labels), default=0) > 6 else 0,
                      ha="right" if max(map(len, labels), default=0) > 6 else "center")
        ax.set_xlabel("compared within each run" if across else (x or "variant"))
        ax.set_ylabel(ylabel)
        seeds = max((len(g["seeds"]) for g in groups), default=1)
        # Two lines, small: long entry names overran a narrow figure and the legend was cut off.
        ax.set_title(f"{cmp.name}: {ylabel} per setting\n({seeds} seed{'s' if seeds > 1 else ''}; mean ± sd in red)",
                     fontsize=9)
        save(fig, out / fname)


def compare(cmp: Comparison, reg: Registry) -> dict:
    across = cmp.compare.get("across")
    metric, goal = cmp.compare.get("metric") or ", ".join(across or {}), cmp.compare.get("goal", "max")
    rows = rows_of(cmp, reg)
    if across:
        groups = groups_across(rows, across, cmp.compare.get("success"))
    else:
        groups = groups_of(rows, metric, cmp.compare.get("success"))
    if cmp.compare.get("baseline") and not across:
        mark_baseline(groups, rows, metric, cmp.compare["baseline"], goal)
    best_i = judge(groups, goal)
    root = reg.experiments[cmp.name].root
    summary = {"entry": cmp.name, "metric": metric, "goal": goal, "swept": list(cmp.swept),
               "x": cmp.compare.get("x") or (cmp.swept[0] if cmp.swept else None),
               "success": cmp.compare.get("success"), "baseline": cmp.compare.get("baseline"), "seeds": list(cmp.seeds) if cmp.seeds else None,
               "rows": rows, "groups": groups, "best": None if best_i is None else groups[best_i]["setting"],
               "answer": answer(cmp, groups, best_i)}
    with io.atomic_path(root / cmp.out_dir) as out:
        out.mkdir()
        _figures(cmp, rows, groups, out)
        buf = _io.StringIO()
        keys = ["variant", "setting", "seed", *_keys(cmp), "wall_seconds"]
        w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        io.write_text(out / "variants.csv", buf.getvalue())
        io.write_json(out / SUMMARY, summary)  # last: its presence means the folder is complete
    return summary
