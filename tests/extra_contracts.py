"""Key-list checks for charts and CRDs that ``../shared/reference`` does not hold.

Their data lives in ``tests/reference_extra/<chart>-<version>/`` (see the README
there): key paths derived from upstream files at the pinned tag. Without a
values schema or a full CRD, what can be checked is that every key we set is one
the chart or the CRD knows. Where a CRD's schema is kept (``*-schema.json``), a
custom resource is validated against all of it (``validate_schema``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from tests import contracts

EXTRA_DIR = Path(__file__).resolve().parent / "reference_extra"


def chart_dir(chart: str) -> Path:
    """``reference_extra/<chart>``; FileNotFoundError names the folder when it is missing."""
    found = EXTRA_DIR / chart
    if not (found / "PROVENANCE").is_file():
        raise FileNotFoundError(f"no reference data with a PROVENANCE note at {found}")
    return found


def lines(chart: str, name: str) -> list[str]:
    """The non-empty lines of ``reference_extra/<chart>/<name>``."""
    return [line.strip() for line in (chart_dir(chart) / name).read_text().splitlines() if line.strip()]


@cache
def _paths_file(chart: str, name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(known, opaque) dotted paths of a key-list file; ``x.*`` makes ``x`` known and opaque."""
    entries = lines(chart, name)
    opaque = frozenset(line.removesuffix(".*") for line in entries if line.endswith(".*"))
    known = frozenset(line.removesuffix(".*") for line in entries)
    return known, opaque


def _walk(tree: Mapping[str, Any], known: frozenset[str], prefix: str = "") -> Iterator[str]:
    """Dotted paths in ``tree``; list items are walked as ``<list>[]`` only where the file lists such paths."""
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        yield path
        if isinstance(value, Mapping):
            yield from _walk(value, known, path)
        elif isinstance(value, list) and f"{path}[]" in known:
            for item in value:
                if isinstance(item, Mapping):
                    yield from _walk(item, known, f"{path}[]")


def unknown_paths(chart: str, name: str, tree: Mapping[str, Any]) -> list[str]:
    """Paths in ``tree`` that the key-list file ``reference_extra/<chart>/<name>`` does not know."""
    known, opaque = _paths_file(chart, name)
    unknown = []
    for path in _walk(tree, known):
        under_opaque = any(path.startswith(f"{map_path}.") for map_path in opaque)
        if path not in known and not under_opaque:
            unknown.append(path)
    return unknown


def unknown_values_keys(chart: str, values: Mapping[str, Any]) -> list[str]:
    """Values keys the chart's default values.yaml (``values-keys.txt``) does not have."""
    return [f"{chart}: unknown values key '{path}'" for path in unknown_paths(chart, "values-keys.txt", values)]


@cache
def _schema_validator(chart: str, name: str) -> jsonschema.Draft4Validator:
    schema = contracts.openapi_to_jsonschema(json.loads((chart_dir(chart) / name).read_text()))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def validate_schema(chart: str, name: str, obj: Mapping[str, Any]) -> list[str]:
    """Errors of a whole custom resource against a CRD ``openAPIV3Schema`` stored as
    ``reference_extra/<chart>/<name>``, checked like ``contracts.validate_custom_resource``
    (defaults applied first, unknown fields rejected); [] if valid."""
    validator = _schema_validator(chart, name)
    defaulted = copy.deepcopy(dict(obj))
    contracts._apply_defaults(validator.schema, defaulted)  # the API server defaults before it validates
    label = f"{obj.get('kind', '?')} {obj.get('metadata', {}).get('name', '?')!r}"
    errors = sorted(validator.iter_errors(defaulted), key=lambda e: (e.json_path, e.message))
    return [f"{label} {error.json_path}: {error.message}" for error in errors]
