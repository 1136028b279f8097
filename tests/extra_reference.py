"""Checks against the reference data that ``../shared/reference`` lacks (``tests/reference_extra``).

One folder per upstream artifact at its pinned version, with a PROVENANCE note (see the
README there). What each folder can hold, and what checks it:

- key lists (``values-keys.txt``, ``<kind>-<version>[-spec]-fields.txt``), in the one format
  below: :func:`key_list` reads one; :meth:`KeyList.unknown_fields` and
  :meth:`KeyList.missing_required` check a custom resource against it,
  :meth:`KeyList.unknown_values` and :func:`unknown_values_keys` Helm values (Helm ignores
  unknown keys without a word, so every key set must be listed);
  :func:`values_key_lines` and :func:`crd_key_lines` write one from upstream files;
- a CRD's ``openAPIV3Schema`` (``<kind>-<version>-schema.json``): :func:`validate_schema`;
- plain lists (``crds.txt``, ``flags.txt``): :func:`lines`.

The key-list format (``tests/reference_extra/README.md``), one key path a line, dotted:
``a.b`` a key; ``a.b.*`` a map that takes any key; ``a.b[]`` a list, with ``a.b[].<key>``
the keys its items may hold; a trailing `` required`` for a key that must be present
wherever its parent is.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from tests import contracts

EXTRA_DIR = Path(__file__).resolve().parent / "reference_extra"
REQUIRED = "required"
VALUES_KEYS = "values-keys.txt"


def folder(name: str) -> Path:
    """``reference_extra/<name>``; FileNotFoundError names the folder when it or its PROVENANCE is missing."""
    found = EXTRA_DIR / name
    if not (found / "PROVENANCE").is_file():
        raise FileNotFoundError(f"no reference data with a PROVENANCE note at {found}")
    return found


def lines(name: str, file: str) -> list[str]:
    """The non-empty lines of ``reference_extra/<name>/<file>``, stripped."""
    return [line.strip() for line in (folder(name) / file).read_text().splitlines() if line.strip()]


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


@dataclass(frozen=True)
class KeyList:
    """A parsed key list: key paths without their ``.*``/``[]`` marks (``[]`` inside a path stays)."""

    keys: frozenset[str]
    free_maps: frozenset[str]
    described_lists: frozenset[str]  # lists with ``<list>[].<key>`` lines
    required: frozenset[str]

    def unknown_fields(self, obj: Mapping[str, Any]) -> list[str]:
        """Key paths in a custom resource (or a part of it) that the list does not have, each where
        it first goes wrong. Every list's items are checked, as its CRD schema describes them."""
        return list(dict.fromkeys(self._unknown(obj, "", every_list=True)))

    def unknown_values(self, values: Mapping[str, Any]) -> list[str]:
        """Key paths in Helm values that the list does not have, each where it first goes wrong.
        A list's items are checked only where ``<list>[].<key>`` lines describe them: the items of
        a chart's default lists are examples, not a schema."""
        return list(dict.fromkeys(self._unknown(values, "", every_list=False)))

    def _unknown(self, tree: Mapping[str, Any], prefix: str, every_list: bool) -> Iterator[str]:
        for key, value in tree.items():
            path = _join(prefix, key)
            if path not in self.keys:
                yield path
            elif path in self.free_maps:
                continue
            elif isinstance(value, Mapping):
                yield from self._unknown(value, path, every_list)
            elif isinstance(value, list) and (every_list or path in self.described_lists):
                for item in value:
                    if isinstance(item, Mapping):
                        yield from self._unknown(item, f"{path}[]", every_list)

    def missing_required(self, tree: Mapping[str, Any]) -> list[str]:
        """Required key paths absent from the maps of ``tree`` that should hold them (list items one by one)."""
        by_parent: dict[str, set[str]] = {}
        for path in self.required:
            parent, _, key = path.rpartition(".")
            by_parent.setdefault(parent, set()).add(key)
        missing: dict[str, None] = {}

        def check(value: Any, path: str) -> None:
            if isinstance(value, Mapping):
                missing.update((_join(path, key), None) for key in sorted(by_parent.get(path, set()) - set(value)))
                for key, item in value.items():
                    check(item, _join(path, key))
            elif isinstance(value, list):
                for item in value:
                    check(item, f"{path}[]")

        check(tree, "")
        return list(missing)


def parse_key_list(entries: Iterable[str]) -> KeyList:
    """A :class:`KeyList` from key-list lines; ValueError on a malformed line, a key listed twice,
    or ``<list>[].<key>`` lines without their ``<list>[]``."""
    keys: set[str] = set()
    free_maps: set[str] = set()
    lists: set[str] = set()
    required: set[str] = set()
    for entry in entries:
        path, *flags = entry.split()
        if flags not in ([], [REQUIRED]):
            raise ValueError(f"key-list line {entry!r}: only '{REQUIRED}' may follow the path")
        key = path[:-2] if path.endswith((".*", "[]")) else path
        if key in keys:
            raise ValueError(f"key-list line {entry!r}: key {key!r} listed twice")
        keys.add(key)
        if path.endswith(".*"):
            free_maps.add(key)
        elif path.endswith("[]"):
            lists.add(key)
        if flags:
            required.add(key)
    described = {key.rsplit("[].", 1)[0] for key in keys if "[]." in key}
    if described - lists:
        raise ValueError(f"item keys listed for {sorted(described - lists)}, which no '<path>[]' line makes a list")
    return KeyList(frozenset(keys), frozenset(free_maps), frozenset(described), frozenset(required))


@cache
def key_list(name: str, file: str) -> KeyList:
    """The key list ``reference_extra/<name>/<file>``."""
    return parse_key_list(lines(name, file))


def unknown_values_keys(chart: str, values: Mapping[str, Any]) -> list[str]:
    """Helm values keys the chart's default values.yaml (``reference_extra/<chart>/values-keys.txt``) lacks."""
    return [f"{chart}: unknown values key '{path}'" for path in key_list(chart, VALUES_KEYS).unknown_values(values)]


def values_key_lines(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Key-list lines of a chart's default values (parsed values.yaml), sorted: an empty map
    takes any key; list items are the chart's own business."""
    out = []
    for key, value in tree.items():
        path = _join(prefix, key)
        if isinstance(value, Mapping) and value:
            out += [path, *values_key_lines(value, path)]
        else:
            out.append(f"{path}.*" if isinstance(value, Mapping) else f"{path}[]" if isinstance(value, list) else path)
    return sorted(out)


def crd_key_lines(schema: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Key-list lines of a CRD ``openAPIV3Schema`` (or a part of it), sorted: an object without
    ``properties`` takes any key (``additionalProperties``, ``x-kubernetes-preserve-unknown-fields``)."""
    out = []
    required = set(schema.get("required", []))
    for name, sub in (schema.get("properties") or {}).items():
        path = _join(prefix, name)
        children: list[str] = []
        if sub.get("type") == "array":
            line = f"{path}[]"
            if isinstance(sub.get("items"), Mapping):
                children = crd_key_lines(sub["items"], line)
        elif sub.get("type") == "object" and not sub.get("properties"):
            line = f"{path}.*"
        else:
            line = path
            children = crd_key_lines(sub, path)
        out += [f"{line} {REQUIRED}" if name in required else line, *children]
    return sorted(out)


@cache
def _schema_validator(name: str, file: str) -> jsonschema.Draft4Validator:
    schema = contracts.openapi_to_jsonschema(json.loads((folder(name) / file).read_text()))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def validate_schema(name: str, file: str, obj: Mapping[str, Any]) -> list[str]:
    """Errors of a whole custom resource against a CRD ``openAPIV3Schema`` stored as
    ``reference_extra/<name>/<file>``, checked like ``contracts.validate_custom_resource``
    (defaults applied first, unknown fields rejected); [] if valid."""
    validator = _schema_validator(name, file)
    defaulted = copy.deepcopy(dict(obj))
    contracts.apply_defaults(validator.schema, defaulted)  # the API server defaults before it validates
    label = f"{obj.get('kind', '?')} {obj.get('metadata', {}).get('name', '?')!r}"
    errors = sorted(validator.iter_errors(defaulted), key=lambda e: (e.json_path, e.message))
    return [f"{label} {error.json_path}: {error.message}" for error in errors]
