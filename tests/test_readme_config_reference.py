"""The README's configuration reference lists exactly the keys and defaults of the models.

Keys and defaults are a public contract (ARCHITECTURE §4): a key added to a
model without a row, a row for a key that is gone, or a default that changed on
one side only fails here. An optional object (``existingVpc``, ``gpu.mig``,
``serving.prefill``, ``autoscaling.offPeak``, ``model.loraAdapters`` ...) is one
row whose text names each of its keys, with their defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args

import pytest
from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components.config import NAMESPACE, PHASE_PRESETS, SECRET_KEYS, StackConfig
from tests.conftest import ROOT

# Keys whose default is not a constant: the README says where it comes from.
DERIVED_DEFAULTS = {
    "cluster.name": "llmd-<stack>",
    "model.parametersBillions": "catalogue",
    "model.bytesPerParameter": "catalogue, else 2",
    "model.layers": "catalogue",
    "model.kvHeads": "catalogue",
    "model.headDim": "catalogue",
    "model.experts": "catalogue",
}
PRESET_KEYS = {
    f"{section}.{key}" for preset in PHASE_PRESETS.values() for section, keys in preset.items() for key in keys
}
NO_DEFAULT = "—"


@dataclass(frozen=True)
class Row:
    default: str  # the default cell, backticks removed
    meaning: str


def _object_model(field: FieldInfo) -> type[BaseModel] | None:
    """The model of a field typed as one (``X``, ``X | None``, ``list[X]``)."""
    stack = [field.annotation]
    while stack:
        kind = stack.pop()
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
        stack += get_args(kind)
    return None


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return None if field.default is PydanticUndefined else field.default


def model_keys(model: type[BaseModel], prefix: str) -> dict[str, FieldInfo]:
    """``section.camelKey`` -> field; an object with a default instance contributes its own keys."""
    keys: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        key = f"{prefix}{to_camel(name)}"
        nested = _object_model(field)
        if nested is not None and isinstance(_default(field), BaseModel):
            keys.update(model_keys(nested, f"{key}."))
        else:
            keys[key] = field
    return keys


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def readme_reference() -> tuple[dict[str, Row], str]:
    """(``section.key`` -> row of every key table, the ``llmd-eks:phase`` line)."""
    readme = (ROOT / "README.md").read_text()
    reference = readme.split("\n## Configuration reference\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, Row] = {}
    section: str | None = None
    in_table = False
    phase_line = ""
    lines = reference.splitlines()
    for index, line in enumerate(lines):
        if heading := re.match(rf"^### `{NAMESPACE}:(\w+)`", line):
            section = heading.group(1)
            if section == "phase":
                phase_line = lines[index + 1]
            continue
        if line.startswith("### "):
            section = None
            continue
        if _cells(line)[:2] == ["key", "default"]:
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
        if not in_table or not line.startswith("| `"):
            continue
        key_cell, default_cell, meaning = _cells(line)[:3]
        names = re.findall(r"`([^`]+)`", key_cell)
        defaults = [d.strip() for d in default_cell.split(" / ")] if len(names) > 1 else [default_cell]
        assert len(defaults) == len(names), f"one default per key: {line}"
        owner = section
        for name, default in zip(names, defaults, strict=True):
            full = name.removeprefix(f"{NAMESPACE}:")
            if full != name:  # a full key names its section; the keys after it share it
                owner, _, full = full.rpartition(".") if "." in full else ("", "", full)
            key = f"{owner}.{full}" if owner else full
            assert key not in rows, f"{key} documented twice"
            rows[key] = Row(default.replace("`", ""), meaning)
    return rows, phase_line


ROWS, PHASE_LINE = readme_reference()
SECTIONS = {key: field for key, field in model_keys(StackConfig, "").items() if key != "phase"}


def test_the_reference_lists_exactly_the_model_keys() -> None:
    documented = set(ROWS)
    expected = set(SECTIONS) | set(SECRET_KEYS)
    assert sorted(expected - documented) == [], "keys without a README row"
    assert sorted(documented - expected) == [], "README rows for keys the models do not have"


def test_phase_values_and_default() -> None:
    field = StackConfig.model_fields["phase"]
    values = re.findall(r'`"([^"]+)"`', PHASE_LINE)
    assert values == list(get_args(field.annotation))
    assert f'`"{field.default}"` (default)' in PHASE_LINE


def _written(value: Any) -> str:
    """A default as the README writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return f"[{', '.join(map(str, value))}]"
    return str(value)


@pytest.mark.parametrize("key", sorted(SECTIONS))
def test_defaults_match(key: str) -> None:
    field, cell = SECTIONS[key], ROWS[key].default
    default = _default(field)
    if default is None:
        if key in PRESET_KEYS:
            assert cell.startswith("*preset"), f"{key}: the phase preset fills it"
        else:
            assert cell == DERIVED_DEFAULTS.get(key, NO_DEFAULT), key
    elif isinstance(default, float):
        assert float(cell) == default, key
    elif isinstance(default, str):
        assert cell in {default, f'"{default}"'}, key
    else:
        assert cell == _written(default), key


OBJECT_ROWS = sorted(key for key, field in SECTIONS.items() if _object_model(field) is not None)


@pytest.mark.parametrize("key", OBJECT_ROWS)
def test_an_object_row_names_its_keys_and_defaults(key: str) -> None:
    model = _object_model(SECTIONS[key])
    assert model is not None
    meaning = ROWS[key].meaning
    for name, field in model.model_fields.items():
        camel = to_camel(name)
        assert re.search(rf"\b{camel}\b", meaning), f"{key}: {camel} not described"
        default = _default(field)
        if isinstance(default, bool | int | float | str) and default != "":
            written = re.escape(_written(default))
            assert re.search(rf'\b{camel}: "?{written}"?', meaning), f"{key}: {camel}'s default {default!r}"


def test_the_parser_sees_every_table() -> None:
    """A README reshuffle that hides a table from the parser must not pass as 'no rows, no keys'."""
    sections = {key.split(".", 1)[0] for key in ROWS}
    assert sections >= {"cluster", "gpu", "model", "serving", "observability", "autoscaling", "modelCache"}
