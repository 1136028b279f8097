"""Check what the program emits against upstream contracts kept in ``../shared/reference``.

The reference folder (see its README.md) holds unmodified upstream CRDs and Helm chart
defaults. This module turns them into two checks:

- ``validate_custom_resource``: a custom resource against its CRD's ``openAPIV3Schema``,
  the way the API server would (defaults applied first, known formats asserted), plus one
  deliberate strictness: unknown fields are errors. Kubernetes prunes them silently, so a
  misspelt field would otherwise deploy without error and without effect.
- ``validate_helm_values``: a Helm values tree against the chart's ``values.schema.json``
  (on the merged values, as Helm does) and against the key paths the chart knows. Helm
  ignores unknown keys silently, for the same reason this is worth an error.

Not checked: CEL rules (``x-kubernetes-validations``), list semantics
(``x-kubernetes-list-type``/``-list-map-keys``/``-map-type``), ``nullable`` (no reference
CRD uses it) and ObjectMeta (CRDs declare ``metadata`` as a bare object).

Tests call ``require_reference()`` first, so they skip with a reason when the data is absent.
The other functions raise ``FileNotFoundError`` instead of skipping.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from jsonschema.protocols import Validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT.parent / "shared" / "reference"

KeyPath = tuple[str, ...]

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster on the big CRDs


def reference_dir() -> Path | None:
    """The reference folder, ``<project root>/../shared/reference``, or None when it is absent."""
    return REFERENCE_DIR if REFERENCE_DIR.is_dir() else None


def require_reference() -> Path:
    """The reference folder; skips the calling test, naming the expected path, when it is absent."""
    found = reference_dir()
    if found is None:
        pytest.skip(f"upstream reference data not found: expected a folder at {REFERENCE_DIR}")
    return found


def _reference() -> Path:
    found = reference_dir()
    if found is None:
        raise FileNotFoundError(f"upstream reference data not found: expected a folder at {REFERENCE_DIR}")
    return found


def _load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_YAML_LOADER)


# --- CRDs --------------------------------------------------------------------------------


@cache
def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    """Every CRD in ``crds/``, keyed by (group, kind)."""
    crds: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((_reference() / "crds").glob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=_YAML_LOADER):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                crds[doc["spec"]["group"], doc["spec"]["names"]["kind"]] = doc
    return crds


def known_crd_kinds() -> set[tuple[str, str]]:
    """(apiVersion, kind) for every served version of every reference CRD."""
    return {
        (f"{group}/{version['name']}", kind)
        for (group, kind), crd in _crds().items()
        for version in crd["spec"]["versions"]
        if version["served"]
    }


def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """A copy of the ``openAPIV3Schema`` of ``kind`` at ``api_version`` ("group/version").

    Raises LookupError when no reference CRD defines the kind or the version is not served.
    """
    group, _, version = api_version.rpartition("/")
    crd = _crds().get((group, kind))
    if crd is None:
        raise LookupError(f"no reference CRD defines {kind} in group {group!r} (under {_reference() / 'crds'})")
    served = {v["name"]: v for v in crd["spec"]["versions"] if v["served"]}
    if version not in served:
        raise LookupError(f"CRD {kind}.{group} does not serve {version!r}; served: {sorted(served)}")
    return copy.deepcopy(served[version]["schema"]["openAPIV3Schema"])


def openapi_to_jsonschema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a CRD structural schema that jsonschema's Draft 4 validator checks like Kubernetes.

    Walks the structural skeleton (``properties``, ``items``, ``additionalProperties``):
    ``x-kubernetes-int-or-string`` accepts an integer or a string; an object that lists
    ``properties`` rejects unknown fields unless it sets ``additionalProperties`` or
    ``x-kubernetes-preserve-unknown-fields``. Branches of ``allOf``/``anyOf``/``oneOf``/``not``
    are left alone: they are value checks over the fields declared beside them (closing them
    would reject those fields, e.g. Gateway ``spec.addresses[]``).
    """
    converted = copy.deepcopy(schema)
    _convert_node(converted)
    return converted


def _convert_node(node: dict[str, Any]) -> None:
    if node.get("x-kubernetes-int-or-string"):
        node.setdefault("type", ["integer", "string"])
    properties = node.get("properties")
    if properties is not None:
        if "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for child in properties.values():
            _convert_node(child)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _convert_node(node[key])


def apply_defaults(schema: Mapping[str, Any], value: Any) -> None:
    """Fill in ``default``s in place, as the API server does before it validates."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name, child in properties.items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                apply_defaults(child, value[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in value.keys() - properties.keys():
                apply_defaults(extra, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(schema["items"], item)


@cache
def _crd_validator(api_version: str, kind: str) -> Validator:
    # Draft 4 because CRD schemas are OpenAPI 3.0 schemas, whose JSON Schema base
    # (boolean exclusiveMinimum/Maximum, no const/if/contains) is Draft 4's. Formats jsonschema
    # knows (ipv4, ipv6, ...; Kubernetes asserts them too) are checked; others such as int32 are not.
    schema = openapi_to_jsonschema(crd_schema(api_version, kind))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def validate_custom_resource(obj: Mapping[str, Any]) -> list[str]:
    """Errors of a whole custom resource (apiVersion/kind/metadata/spec) against its CRD, [] if valid.

    Each error reads ``"<Kind> '<name>' <JSON path>: <message>"``. Raises LookupError when the
    reference has no CRD serving the object's apiVersion and kind.
    """
    validator = _crd_validator(obj["apiVersion"], obj["kind"])
    defaulted = copy.deepcopy(dict(obj))
    apply_defaults(validator.schema, defaulted)
    name = obj.get("metadata", {}).get("name", "?")
    errors = sorted(validator.iter_errors(defaulted), key=lambda e: (e.json_path, e.message))
    return [f"{obj['kind']} {name!r} {error.json_path}: {error.message}" for error in errors]


# --- Helm charts -------------------------------------------------------------------------


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base`` the way Helm merges user values over chart defaults.

    Maps merge key by key, lists and scalars replace, and a ``None`` in ``override`` deletes
    the key. Neither input is modified.
    """
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping):
            current = merged.get(key)
            merged[key] = deep_merge(current if isinstance(current, Mapping) else {}, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _chart_dir(chart: str) -> Path:
    charts = _reference() / "charts"
    if not (charts / chart).is_dir():
        available = sorted(p.name for p in charts.iterdir())
        raise LookupError(f"no reference chart {chart!r} under {charts}; available: {available}")
    return charts / chart


@cache
def _defaults(chart: str) -> dict[str, Any]:
    chart_dir = _chart_dir(chart)
    defaults: dict[str, Any] = _load_yaml(chart_dir / "values.yaml") or {}
    # values.<alias>.yaml holds the defaults of a dependency chart. Helm nests them under the
    # alias and lets the parent's values.yaml override them (inferencepool: inferenceExtension).
    for dependency in sorted(chart_dir.glob("values.*.yaml")):
        alias = dependency.name.removeprefix("values.").removesuffix(".yaml")
        defaults[alias] = deep_merge(_load_yaml(dependency) or {}, defaults.get(alias) or {})
    return defaults


def chart_defaults(chart: str) -> dict[str, Any]:
    """A copy of the chart's default values (values.yaml, dependency defaults nested under their alias)."""
    return copy.deepcopy(_defaults(chart))


@cache
def _values_validator(chart: str) -> Validator | None:
    path = _chart_dir(chart) / "values.schema.json"
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(schema)


def _map_paths(tree: Mapping[str, Any], prefix: KeyPath = ()) -> Iterator[KeyPath]:
    for key, value in tree.items():
        path = (*prefix, str(key))
        yield path
        if isinstance(value, Mapping):
            yield from _map_paths(value, path)


def _schema_paths(schema: Mapping[str, Any], prefix: KeyPath = ()) -> Iterator[KeyPath]:
    for key, child in schema.get("properties", {}).items():
        yield (*prefix, key)
        yield from _schema_paths(child, (*prefix, key))


def _proper_prefixes(paths: set[KeyPath]) -> set[KeyPath]:
    return {path[:i] for path in paths for i in range(1, len(path))}


@cache
def _key_paths(chart: str) -> tuple[frozenset[KeyPath], frozenset[KeyPath]]:
    """(known, opaque) key paths of a chart.

    Known: every path in the defaults, in used-values.txt or in the schema's ``properties``,
    and their ancestors. Opaque (the chart takes the value whole, anything below goes): a known
    path with no known descendants (``labels: {}``, ``decode.nodeSelector``), or a leaf of
    used-values.txt, i.e. a map the templates read whole even when the defaults show example
    keys (``inferenceExtension.resources``, karpenter ``nodeSelector``). Where a schema closes
    such a map (modelservice ``decode.parallelism``), the schema check still catches typos.
    """
    chart_dir = _chart_dir(chart)
    used = {tuple(line.split(".")) for line in (chart_dir / "used-values.txt").read_text().split()}
    known = used | set(_map_paths(_defaults(chart)))
    validator = _values_validator(chart)
    if validator is not None:
        known |= set(_schema_paths(validator.schema))
    inner = _proper_prefixes(known)
    known |= inner
    opaque = (known - inner) | (used - _proper_prefixes(used))
    return frozenset(known), frozenset(opaque)


def _unknown_keys(
    chart: str, values: Mapping[str, Any], prefix: KeyPath, list_item_keys: Mapping[str, set[str]]
) -> Iterator[str]:
    """Dotted paths in ``values`` that the chart does not read."""
    known, opaque = _key_paths(chart)
    for key, value in values.items():
        path = (*prefix, str(key))
        dotted = ".".join(path)
        if path not in known:
            yield dotted
        elif isinstance(value, list):  # lists are leaves, unless the caller says what their items hold
            allowed = list_item_keys.get(dotted)
            if allowed is not None:
                for index, item in enumerate(value):
                    if isinstance(item, Mapping):
                        yield from (f"{dotted}[{index}].{k}" for k in item if k not in allowed)
        elif isinstance(value, Mapping) and path not in opaque:
            yield from _unknown_keys(chart, value, path, list_item_keys)


def validate_helm_values(
    chart: str, values: Mapping[str, Any], list_item_keys: Mapping[str, set[str]] | None = None
) -> list[str]:
    """Errors of user ``values`` for a reference chart ("<name>-<version>" folder), [] if valid.

    1. Where the chart ships values.schema.json: the merged values (``deep_merge`` of the
       user values over ``chart_defaults``), as Helm validates them.
    2. Every key path the user values set must be one the chart knows (see ``_key_paths``).
       Lists are leaves; ``list_item_keys`` maps a list's dotted path (``"decode.containers"``)
       to the keys its items may hold, and those are checked too.

    Raises ValueError when a ``list_item_keys`` path is not a key path of the chart, so a
    misspelt path cannot turn the item check off.
    """
    list_item_keys = list_item_keys or {}
    known, _ = _key_paths(chart)
    stray = sorted(path for path in list_item_keys if tuple(path.split(".")) not in known)
    if stray:
        raise ValueError(f"{chart}: list_item_keys paths not known to the chart: {stray}")
    errors = []
    validator = _values_validator(chart)
    if validator is not None:
        merged = deep_merge(_defaults(chart), values)
        for error in sorted(validator.iter_errors(merged), key=lambda e: (e.json_path, e.message)):
            errors.append(f"{chart}: values {error.json_path}: {error.message}")
    for dotted in _unknown_keys(chart, values, (), list_item_keys):
        errors.append(f"{chart}: unknown values key '{dotted}' (Helm ignores it silently)")
    return errors
