"""Key paths: which Helm values keys a chart knows, which fields a CRD defines.

For charts and CRDs that are not in ``../shared/reference`` (those are checked
with ``tests/contracts.py``): their key lists are stored under
``tests/reference_extra/`` (see the PROVENANCE file beside each), written with
:func:`values_paths` / :func:`crd_field_paths`. Helm ignores unknown values
keys without a word, so every path the program sets must be listed.

A list line is ``<path>\\t<kind>``; kind is ``map``, ``list`` or ``scalar``
(for CRDs, ``required`` marks a field its parent object requires).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

EXTRA = Path(__file__).resolve().parent / "reference_extra"

Known = dict[str, str]  # path -> kind


def _kind(value: Any) -> str:
    return "map" if isinstance(value, Mapping) else "list" if isinstance(value, list) else "scalar"


def values_paths(tree: Mapping[str, Any], prefix: str = "") -> Known:
    """Every key path of a values tree (maps only; list items are free-form)."""
    paths: Known = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        paths[path] = _kind(value)
        if isinstance(value, Mapping):
            paths.update(values_paths(value, f"{path}."))
    return paths


def crd_field_paths(schema: Mapping[str, Any], prefix: str = "") -> Known:
    """Field paths of an openAPIV3Schema; ``[]`` marks list items."""
    paths: Known = {}
    required = set(schema.get("required", []))
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        kind = {"object": "map", "array": "list"}.get(sub.get("type", ""), "scalar")
        paths[path] = "required" if name in required else kind
        if sub.get("type") == "array" and isinstance(sub.get("items"), Mapping):
            paths.update(crd_field_paths(sub["items"], f"{path}[]."))
        else:
            paths.update(crd_field_paths(sub, f"{path}."))
    return paths


def load(path: Path) -> Known:
    known: Known = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, kind = line.split("\t")
            known[key] = kind
    return known


def dump(known: Known) -> str:
    return "".join(f"{path}\t{kind}\n" for path, kind in sorted(known.items()))


def _leaves(tree: Any, prefix: str = "") -> Iterator[str]:
    """Paths to scalars, lists and empty maps (list items are the chart's free-form business)."""
    if isinstance(tree, Mapping) and tree:
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip(".")


def unknown_values(values: Mapping[str, Any], known: Known) -> list[str]:
    """Leaf paths of ``values`` the chart does not know.

    A path is known when it is listed, or when an ancestor is a listed list
    (items are free-form) or a listed map with no listed children (a free-form
    map such as ``labels``).
    """
    parents = {path.rsplit(".", 1)[0] for path in known if "." in path}
    unknown = []
    for leaf in _leaves(values):
        parts = leaf.split(".")
        ancestors = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
        if not any(
            a in known and (a == leaf or known[a] == "list" or (known[a] == "map" and a not in parents))
            for a in ancestors
        ):
            unknown.append(leaf)
    return unknown


def unknown_fields(obj: Mapping[str, Any], known: Known) -> list[str]:
    """Field paths of a custom resource (``spec``...) its CRD does not define."""

    def walk(value: Any, prefix: str) -> Iterator[str]:
        if isinstance(value, Mapping):
            for key, item in value.items():
                path = f"{prefix}{key}"
                yield path
                yield from walk(item, f"{path}.")
        elif isinstance(value, list):
            for item in value:
                yield from walk(item, f"{prefix[:-1]}[].")

    free = {path for path, kind in known.items() if kind == "map" and not any(k.startswith(f"{path}.") for k in known)}
    return [p for p in walk(obj, "") if p not in known and not any(p.startswith(f"{f}.") for f in free)]


def missing_required(obj: Mapping[str, Any], known: Known) -> list[str]:
    """Required fields absent from the objects ``obj`` contains (lists checked item by item)."""
    missing = []

    def check(value: Any, prefix: str) -> None:
        if not isinstance(value, Mapping):
            return
        for path, kind in known.items():
            field = path[len(prefix) :]
            if kind == "required" and path.startswith(prefix) and "." not in field and field not in value:
                missing.append(path)
        for key, item in value.items():
            items = item if isinstance(item, list) else [item]
            sub = f"{prefix}{key}[]." if isinstance(item, list) else f"{prefix}{key}."
            for element in items:
                check(element, sub)

    check(obj, "")
    return missing
