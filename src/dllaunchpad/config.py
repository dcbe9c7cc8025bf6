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

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "workflow" / "schemas" / "params.schema.yaml"
FAMILY_SCHEMAS = ROOT / "workflow" / "schemas" / "families"
PARAMS_PATH = Path("params.yaml")


class ParamsError(ValueError):
    """params.yaml (or an override of it) is invalid; the message names the key."""


@lru_cache(maxsize=1)
def schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=None)
def family_schema(family: str) -> dict | None:
    path = FAMILY_SCHEMAS / f"{family}.schema.yaml"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def read_params(path: str | Path = PARAMS_PATH) -> dict:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
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
        base = {k: v for k, v in exp.items() if k != "quick"}
        _check(base, fam, source, ("experiments", name))
        if exp.get("quick"):
            _check(deep_merge(base, exp["quick"]), fam, f"{source} (quick block merged)", ("experiments", name))
    # Cross references that a schema cannot express.
    datasets = params["datasets"]
    for name in params["skip_datasets"]:
        if name not in datasets:
            raise ParamsError(f"{source}: skip_datasets: unknown dataset {name!r} (known: {sorted(datasets)})")
    for name, exp in params["experiments"].items():
        ds = exp.get("dataset")
        if ds is not None and ds not in datasets:
            raise ParamsError(f"{source}: experiments.{name}.dataset: unknown dataset {ds!r} (known: {sorted(datasets)})")


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
                out[table][name] = deep_merge(entry, override)
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
    return effective
