"""Load params.yaml, check it against the JSON schema, and apply `scale: quick`.

Both the Snakefile and the CLI go through `load_params`, so a bad key, type or value stops the
run before any job starts, with a message that names the key (``experiments.xor.trainer.epochs``).

`scale: quick` merges each dataset's and experiment's ``quick:`` block over its full settings;
the merged result is validated again, so a typo inside a ``quick:`` block is caught too.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from dllaunchpad.io import load_yaml

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = ROOT / "workflow" / "schemas" / "params.schema.yaml"
FAMILY_SCHEMAS = ROOT / "workflow" / "schemas" / "families"
PARAMS_PATH = Path("params.yaml")


class ParamsError(ValueError):
    """params.yaml (or an override of it) is invalid; the message names the key."""


@lru_cache(maxsize=1)
def schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return load_yaml(fh)


@lru_cache(maxsize=None)
def family_schema(family: str) -> dict | None:
    path = FAMILY_SCHEMAS / f"{family}.schema.yaml"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as fh:
        return load_yaml(fh)


def read_params(path: str | Path = PARAMS_PATH) -> dict:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            raw = load_yaml(fh)
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the repository root)") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return raw


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _check(instance, sch: dict, source: str, prefix: tuple = ()) -> None:
    """Raise ParamsError for the most relevant schema violation, naming its key."""
    import jsonschema  # imported here: only validation needs it

    validator = jsonschema.validators.validator_for(sch)(sch)
    errors = list(validator.iter_errors(instance))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        raise ParamsError(f"{source}: {_key(prefix + tuple(err.absolute_path))}: {err.message}")


def validate(params: Mapping[str, Any], source: str = "params.yaml") -> None:
    """Raise ParamsError naming the first offending key.

    The main schema checks the file's shape; each experiment's `model`/`data`/... are then
    checked by its family's schema, both as written and with its `quick:` block merged in.
    """
    _check(params, schema(), source)
    for name, exp in params["experiments"].items():
        fam = family_schema(exp["family"])
        if fam is None:
            raise ParamsError(f"{source}: experiments.{name}.family: unknown family {exp['family']!r} "
                              f"(no workflow/schemas/families/{exp['family']}.schema.yaml)")
        base = family_view({k: v for k, v in exp.items() if k != "quick"}, params["datasets"])
        _check(base, fam, source, ("experiments", name))
        if exp.get("quick"):
            _check(deep_merge(base, exp["quick"]), fam, f"{source} (quick block merged)", ("experiments", name))
    # Cross references that a schema cannot express.
    datasets = params["datasets"]
    for name in params["skip_datasets"]:
        if name not in datasets:
            raise ParamsError(f"{source}: skip_datasets: unknown dataset {name!r} (known: {sorted(datasets)})")
    for name, exp in params["experiments"].items():
        for key in ("see_also", "uses"):
            for other in exp.get(key, []):
                if other not in params["experiments"] or other == name:
                    raise ParamsError(f"{source}: experiments.{name}.{key}: {other!r} is not another experiment of "
                                      f"params.yaml")
        for other in exp.get("uses", []):
            if "trainer" not in params["experiments"][other]:
                raise ParamsError(f"{source}: experiments.{name}.uses: {other!r} trains no model (no trainer: block)")
        ds = exp.get("dataset")
        if ds is not None and ds not in datasets:
            raise ParamsError(f"{source}: experiments.{name}.dataset: unknown dataset {ds!r} (known: {sorted(datasets)})")


def family_view(exp: Mapping, datasets: Mapping) -> dict:
    """The entry as its family's schema sees it: a dataset read from a local folder (`source:`,
    pipeline/folders.py) stands for the stock dataset its kind is prepared like (kind midi ->
    classical_piano), so that a family which takes that dataset takes the reader's own too."""
    from dllaunchpad.pipeline.folders import stands_for

    like = stands_for(exp.get("dataset"), dict(datasets))
    return {**exp, "dataset": like} if like else dict(exp)


def deep_merge(base: Mapping, override: Mapping) -> dict:
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def apply_scale(params: Mapping[str, Any]) -> dict:
    """The effective settings: `quick:` blocks merged in (scale quick) or dropped (scale full)."""
    quick = params["scale"] == "quick"
    out = copy.deepcopy(dict(params))
    for table in ("datasets", "experiments"):
        for name, entry in out[table].items():
            override = entry.pop("quick", {}) or {}
            if quick:
                out[table][name] = entry = deep_merge(entry, override)
            if table == "datasets" and override:
                # kept: a preprocess stage reads it in quick mode, so its params list it
                # (pipeline/stages.py) whatever the scale, as dvc.yaml does
                entry["quick"] = override
    return out


def load_params(raw: Mapping[str, Any] | None = None, *, path: str | Path = PARAMS_PATH,
                scale: str | None = None, skip_datasets: list[str] | None = None) -> dict:
    """Validated, effective params. `scale`/`skip_datasets` override the file (CLI flags,
    Snakemake --config)."""
    params = copy.deepcopy(dict(raw)) if raw is not None else read_params(path)
    if scale is not None:
        params["scale"] = scale
    if skip_datasets is not None:
        params["skip_datasets"] = list(skip_datasets)
    source = str(path)
    validate(params, source)
    effective = apply_scale(params)
    validate(effective, f"{source} (scale {params['scale']}, quick blocks merged)")
    return expand_variants(effective, params, source)


def expand_variants(effective: dict, raw: Mapping[str, Any], source: str) -> dict:
    """Every entry's `variants:` as experiments of their own (pipeline/variants.py), each checked
    against the schemas; `_comparisons` lists them per entry. Also records, per experiment, the
    params.yaml keys its stages read (`_param_keys`): the whole entry, or for an entry with
    variants its fields but `variants` (adding a variant does not rerun the others)."""
    from dllaunchpad.pipeline import variants as V

    experiment_schema = {"$defs": schema()["$defs"], "$ref": "#/$defs/experiment"}
    out, comparisons = {}, {}
    for name, spec in effective["experiments"].items():
        raw_entry = raw["experiments"][name]
        block = spec.pop("variants", None)
        keys = ([f"experiments.{name}.{k}" for k in raw_entry if k != "variants"] if "variants" in raw_entry
                else [f"experiments.{name}"])
        if block and "variants" not in raw_entry:
            raise ParamsError(f"{source}: experiments.{name}.quick.variants: declare the variants in the entry "
                              f"itself (`variants:`); a quick block may only shrink them")
        spec[V.PARAM_KEYS] = keys
        out[name] = spec
        if not block:
            continue
        base = {k: v for k, v in spec.items() if not k.startswith("_")}
        fam = family_schema(spec["family"])
        names = []
        for vname, vspec, overrides in V.expand(name, {**base, "variants": block}):
            where = f"{source}: experiments.{name}.variants: variant {vname} (overrides {', '.join(overrides) or 'none'})"
            if vname in effective["experiments"] or vname in out:
                raise ParamsError(f"{where}: the name is taken; rename the entry or the variant")
            named = vspec.pop(V.NAMED, None)
            _check(vspec, experiment_schema, where)
            _check(family_view(vspec, effective["datasets"]), fam, where)
            vspec.update({V.VARIANT_OF: name, V.OVERRIDES: overrides, V.PARAM_KEYS: keys})
            if named:
                vspec[V.NAMED] = named
            out[vname] = vspec
            names.append(vname)
        cmp_keys = [f"experiments.{name}.variants"] + ([f"experiments.{name}.quick"] if "quick" in raw_entry else [])
        own_seed = int(spec.get("seed", effective["seed"]))
        seeds = block.get("seeds")
        if V.overrides_of(block) == [(None, {})] and own_seed not in (seeds or []):
            # seed repeats only: the entry's own run is one more seed of the same settings
            names = [name, *names]
            seeds = [own_seed, *(seeds or [])]
        comparisons[name] = {"variants": names, "compare": block.get("compare") or {}, "swept": V.swept_paths(block),
                             "seeds": seeds, "param_keys": cmp_keys}
    effective["experiments"] = out
    effective[V.COMPARISONS] = comparisons
    return effective
