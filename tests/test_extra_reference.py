"""tests/extra_reference.py: the key-list format, each check rejecting a bad input, the writers, the data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests import extra_reference
from tests.extra_reference import EXTRA_DIR, parse_key_list

# A CRD-like key list using every mark of the format.
FIELDS = parse_key_list(
    [
        "spec required",
        "spec.labels.*",
        "spec.ports[]",
        "spec.ports[].name required",
        "spec.ports[].port",
        "spec.hosts[]",
        "spec.size",
    ]
)
DGD_SCHEMA = ("dynamo-platform-1.0.0", "dynamographdeployment-v1alpha1-schema.json")


def dgd(services: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "nvidia.com/v1alpha1",
        "kind": "DynamoGraphDeployment",
        "metadata": {"name": "graph"},
        "spec": {"services": services},
    }


def test_listed_keys_free_maps_and_list_items_pass() -> None:
    obj = {
        "spec": {
            "labels": {"any": {"thing": 1}},
            "ports": [{"name": "http", "port": 80}],
            "hosts": ["a", "b"],
            "size": 3,
        }
    }
    assert FIELDS.unknown_fields(obj) == []
    assert FIELDS.unknown_values(obj) == []
    assert FIELDS.missing_required(obj) == []


def test_unknown_fields_reports_each_wrong_key_where_it_first_goes_wrong() -> None:
    obj = {
        "spec": {
            "labelz": {"a": 1},
            "ports": [{"name": "a", "prot": 1}, {"name": "b", "prot": 2}],
            "size": {"x": 1},
            "hosts": [{"host": "a"}],
        }
    }
    assert FIELDS.unknown_fields(obj) == ["spec.labelz", "spec.ports[].prot", "spec.size.x", "spec.hosts[].host"]


def test_unknown_values_checks_list_items_only_where_they_are_listed() -> None:
    values = {"spec": {"ports": [{"prot": 1}], "hosts": [{"host": "a"}], "size": [{"x": 1}], "sise": 1}}
    assert FIELDS.unknown_values(values) == ["spec.ports[].prot", "spec.sise"]
    assert FIELDS.unknown_values({"spec": {"hosts": {"a": 1}}}) == ["spec.hosts.a"], "a map where a list is"


def test_missing_required_checks_the_root_and_every_list_item() -> None:
    assert FIELDS.missing_required({}) == ["spec"]
    obj = {"spec": {"ports": [{"name": "a"}, {"port": 1}, {"port": 2}]}}
    assert FIELDS.missing_required(obj) == ["spec.ports[].name"]
    assert FIELDS.missing_required({"spec": {"size": 1}}) == [], "required only where the parent is"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["a required yes"], "only 'required' may follow"),
        (["a optional"], "only 'required' may follow"),
        (["a", "a.*"], "listed twice"),
        (["a", "a[].b"], "which no '<path>[]' line makes a list"),
    ],
)
def test_malformed_key_lists_are_refused(entries: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_key_list(entries)


def test_unknown_values_keys_names_the_chart_and_the_key() -> None:
    chart = "aws-efa-k8s-device-plugin-v0.5.30"
    assert extra_reference.unknown_values_keys(chart, {"image": {"tag": "x"}, "nodeSelector": {"a": "b"}}) == []
    assert extra_reference.unknown_values_keys(chart, {"image": {"tga": "x"}}) == [
        f"{chart}: unknown values key 'image.tga'"
    ]


def test_validate_schema_applies_defaults_and_rejects_unknown_and_mistyped_fields() -> None:
    # multinode.nodeCount is required but defaulted to 2, so the API server accepts its omission.
    assert extra_reference.validate_schema(*DGD_SCHEMA, dgd({"W": {"replicas": 1, "multinode": {}}})) == []
    errors = extra_reference.validate_schema(*DGD_SCHEMA, dgd({"W": {"replica": 1, "checkpoint": {"mode": 5}}}))
    assert any("'replica' was unexpected" in e for e in errors), errors
    assert any("$.spec.services.W.checkpoint.mode: 5 is not of type 'string'" in e for e in errors), errors


def test_a_folder_without_provenance_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "chart-1.0").mkdir()
    (tmp_path / "chart-1.0" / "flags.txt").write_text("a\n")
    monkeypatch.setattr(extra_reference, "EXTRA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "chart-1.0"))):
        extra_reference.lines("chart-1.0", "flags.txt")
    (tmp_path / "chart-1.0" / "PROVENANCE").write_text("source\n")
    assert extra_reference.lines("chart-1.0", "flags.txt") == ["a"]


def test_values_key_lines_mark_free_maps_and_lists() -> None:
    values = {"image": {"repository": "r", "tag": "t"}, "labels": {}, "tolerations": [{"key": "k"}], "replicas": 1}
    lines = extra_reference.values_key_lines(values)
    assert lines == ["image", "image.repository", "image.tag", "labels.*", "replicas", "tolerations[]"]
    written = parse_key_list(lines)
    assert written.unknown_values(values) == []
    assert written.unknown_values({"image": {"tga": "t"}}) == ["image.tga"]


def test_crd_key_lines_mark_lists_items_free_maps_and_required_fields() -> None:
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "properties": {
                    "rules": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["expr"],
                            "properties": {"expr": {"type": "string"}, "labels": {"type": "object"}},
                        },
                    },
                    "overlay": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            },
        },
    }
    lines = extra_reference.crd_key_lines(schema)
    assert lines == [
        "metadata.*",
        "spec required",
        "spec.overlay.*",
        "spec.rules[]",
        "spec.rules[].expr required",
        "spec.rules[].labels.*",
    ]
    written = parse_key_list(lines)
    assert written.unknown_fields({"spec": {"rules": [{"expr": "1", "label": {}}]}}) == ["spec.rules[].label"]
    assert written.missing_required({"spec": {"rules": [{"labels": {}}]}}) == ["spec.rules[].expr"]


KEY_LISTS = sorted([*EXTRA_DIR.glob("*/values-keys.txt"), *EXTRA_DIR.glob("*/*-fields.txt")])


@pytest.mark.parametrize("path", KEY_LISTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_key_list_parses(path: Path) -> None:
    extra_reference.key_list(path.parent.name, path.name)


def test_every_data_file_is_in_a_folder_with_provenance_and_a_known_format() -> None:
    assert len(KEY_LISTS) >= 8
    for path in EXTRA_DIR.glob("*/*"):
        assert (path.parent / "PROVENANCE").is_file(), path
        assert path.name == "PROVENANCE" or path.suffix in {".txt", ".json"}, f"{path}: not a format of README.md"
