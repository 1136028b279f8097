"""tests/contracts.py against the real reference data: every check rejects a bad input and accepts a good one."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests import contracts

MODELSERVICE = "llm-d-modelservice-v0.4.9"
INFRA = "llm-d-infra-v1.4.0"
INFERENCEPOOL = "inferencepool-v1.4.0"
KARPENTER = "karpenter-1.14.1"

CONTAINER_KEYS = {"name", "image", "modelCommand", "args", "env", "ports", "resources", "mountModelVolume"}


def nodepool() -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "gpu", "labels": {"app": "llm-d"}, "annotations": {"a": "b"}},
        "spec": {
            "template": {
                "metadata": {"labels": {"llm-d.ai/role": "decode"}},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
                    "requirements": [{"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["p5"]}],
                    "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
                },
            },
            "limits": {"nvidia.com/gpu": 8, "cpu": "1000", "memory": "2000Gi"},
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "5m"},
        },
    }


def httproute() -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "llm", "namespace": "llm-d"},
        "spec": {
            "parentRefs": [{"name": "infra-gateway", "sectionName": "http"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                    "backendRefs": [
                        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "pool", "port": 8000}
                    ],
                    "timeouts": {"request": "300s"},
                }
            ],
        },
    }


def gateway(addresses: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "infra-gateway"},
        "spec": {
            "gatewayClassName": "istio",
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
            "addresses": addresses,
        },
    }


def errors_of(obj: dict[str, Any]) -> str:
    return "\n".join(contracts.validate_custom_resource(obj))


# --- locating the reference ------------------------------------------------------------------


def test_reference_dir_is_shared_reference_beside_the_project() -> None:
    found = contracts.require_reference()
    project_root = Path(__file__).resolve().parent.parent
    assert found == contracts.reference_dir() == project_root.parent / "shared" / "reference"
    assert (found / "README.md").is_file()


def test_missing_reference_skips_with_the_expected_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    absent = tmp_path / "shared" / "reference"
    monkeypatch.setattr(contracts, "REFERENCE_DIR", absent)
    assert contracts.reference_dir() is None
    with pytest.raises(pytest.skip.Exception, match=re.escape(str(absent))):
        contracts.require_reference()
    with pytest.raises(FileNotFoundError, match=re.escape(str(absent))):
        contracts.chart_defaults("not-loaded-before-0.0.0")


# --- CRDs -------------------------------------------------------------------------------------


def test_known_crd_kinds_lists_served_versions_only() -> None:
    contracts.require_reference()
    kinds = contracts.known_crd_kinds()
    assert {
        ("karpenter.sh/v1", "NodePool"),
        ("karpenter.k8s.aws/v1", "EC2NodeClass"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1beta1", "HTTPRoute"),
        ("inference.networking.k8s.io/v1", "InferencePool"),
    } <= kinds
    assert ("karpenter.sh/v1beta1", "NodePool") not in kinds


def test_crd_schema_returns_the_served_version_and_rejects_others() -> None:
    contracts.require_reference()
    schema = contracts.crd_schema("karpenter.sh/v1", "NodePool")
    assert schema["required"] == ["spec"]
    schema["required"] = []  # a copy: the cached CRD is untouched
    assert contracts.crd_schema("karpenter.sh/v1", "NodePool")["required"] == ["spec"]
    with pytest.raises(LookupError, match="does not serve 'v1beta1'"):
        contracts.crd_schema("karpenter.sh/v1beta1", "NodePool")
    with pytest.raises(LookupError, match="no reference CRD defines NodeClass"):
        contracts.crd_schema("eks.amazonaws.com/v1", "NodeClass")
    with pytest.raises(LookupError):
        contracts.validate_custom_resource({**nodepool(), "apiVersion": "karpenter.sh/v1beta1"})


def test_valid_nodepool_passes() -> None:
    contracts.require_reference()
    assert contracts.validate_custom_resource(nodepool()) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("spec", "template", "spec", "requirement"), [], "('requirement' was unexpected)"),
        (("spec", "weight"), "high", "$.spec.weight: 'high' is not of type 'integer'"),
        (("specs",), {}, "$: Additional properties are not allowed ('specs' was unexpected)"),
        (("spec", "disruption"), {"consolidationPolicy": "WhenEmpty"}, "'consolidateAfter' is a required property"),
        (
            ("spec", "template", "spec", "taints"),
            [{"key": "k", "effect": "NoSchedul"}],
            "taints[0].effect: 'NoSchedul'",
        ),
    ],
    ids=["misspelt-field", "wrong-type", "unknown-top-level", "missing-required", "bad-enum"],
)
def test_invalid_nodepool_fails(path: tuple[str, ...], value: Any, expected: str) -> None:
    contracts.require_reference()
    obj = nodepool()
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    errors = errors_of(obj)
    assert expected in errors
    assert errors.startswith("NodePool 'gpu' $")


@pytest.mark.parametrize("limit", [8, "8", "1000Gi", "1.5"])
def test_int_or_string_accepts_integers_and_quantity_strings(limit: Any) -> None:
    contracts.require_reference()
    obj = nodepool()
    obj["spec"]["limits"] = {"memory": limit}
    assert contracts.validate_custom_resource(obj) == []


@pytest.mark.parametrize("limit", [1.5, True, [8], "lots"])
def test_int_or_string_rejects_other_values(limit: Any) -> None:
    contracts.require_reference()
    obj = nodepool()
    obj["spec"]["limits"] = {"memory": limit}
    assert "$.spec.limits.memory" in errors_of(obj)


def test_defaults_are_applied_before_validation() -> None:
    contracts.require_reference()
    obj = nodepool()
    # budgets[].nodes is required but defaulted to "10%", so the API server accepts its omission.
    obj["spec"]["disruption"]["budgets"] = [{"reasons": ["Empty"]}]
    assert contracts.validate_custom_resource(obj) == []
    obj["spec"]["disruption"]["budgets"] = [{"nodes": 10}]
    assert "$.spec.disruption.budgets[0].nodes: 10 is not of type 'string'" in errors_of(obj)
    # An address without a type defaults to IPAddress, so its value must then be an IP.
    assert contracts.validate_custom_resource(gateway([{"value": "10.0.0.1"}])) == []
    assert "$.spec.addresses[0]" in errors_of(gateway([{"value": "lb.example.com"}]))
    assert contracts.validate_custom_resource(gateway([{"type": "Hostname", "value": "lb.example.com"}])) == []


def test_known_formats_are_asserted() -> None:
    contracts.require_reference()
    assert contracts.validate_custom_resource(gateway([{"type": "IPAddress", "value": "fd00::1"}])) == []
    assert "$.spec.addresses[0]" in errors_of(gateway([{"type": "IPAddress", "value": "not-an-ip"}]))


def test_valid_httproute_passes() -> None:
    contracts.require_reference()
    assert contracts.validate_custom_resource(httproute()) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda rule: rule.update(backendRef=rule.pop("backendRefs")), "('backendRef' was unexpected)"),
        (lambda rule: rule["backendRefs"][0].update(port=70000), "$.spec.rules[0].backendRefs[0].port"),
        (lambda rule: rule["matches"][0]["path"].update(type="Prefix"), "$.spec.rules[0].matches[0].path.type"),
        (lambda rule: rule["timeouts"].update(request=300), "$.spec.rules[0].timeouts.request"),
    ],
    ids=["misspelt-field", "port-out-of-range", "bad-enum", "wrong-type"],
)
def test_invalid_httproute_fails(edit: Any, expected: str) -> None:
    contracts.require_reference()
    obj = httproute()
    edit(obj["spec"]["rules"][0])
    assert expected in errors_of(obj)


def test_openapi_conversion_closes_objects_except_where_unknown_fields_are_kept() -> None:
    schema = {
        "type": "object",
        "properties": {
            "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
            "kept": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {}}},
            "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"b": {}}}},
            "either": {"type": "object", "properties": {"a": {}, "b": {}}, "oneOf": [{"properties": {"a": {}}}]},
        },
    }
    original = copy.deepcopy(schema)
    validator = jsonschema.Draft4Validator(contracts.openapi_to_jsonschema(schema))
    assert schema == original
    assert validator.is_valid({"closed": {"a": "x"}, "kept": {"z": 1}, "map": {"k": {"b": 1}}, "either": {"b": 1}})
    assert not validator.is_valid({"closed": {"z": 1}})
    assert not validator.is_valid({"map": {"k": {"z": 1}}})
    assert not validator.is_valid({"unknown": 1})


def test_openapi_conversion_accepts_int_or_string_without_any_of() -> None:
    # controller-gen also emits anyOf [integer, string]; hand-written CRDs may carry only the flag.
    schema = {"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": True, "pattern": "^[a-z]+$"}}}
    validator = jsonschema.Draft4Validator(contracts.openapi_to_jsonschema(schema))
    assert validator.is_valid({"port": 8080})
    assert validator.is_valid({"port": "http"})
    assert not validator.is_valid({"port": 1.5})
    assert not validator.is_valid({"port": ["http"]})


# --- Helm values ------------------------------------------------------------------------------


def test_deep_merge_follows_helm() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"keep": True}}
    override = {"a": {"y": [3], "z": 2}, "b": {"now": "map"}, "c": None, "d": {"e": None, "f": 1}}
    assert contracts.deep_merge(base, override) == {"a": {"x": 1, "y": [3], "z": 2}, "b": {"now": "map"}, "d": {"f": 1}}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"keep": True}}


def test_chart_defaults_nest_dependency_defaults_under_their_alias() -> None:
    contracts.require_reference()
    assert contracts.chart_defaults(MODELSERVICE)["decode"]["replicas"] == 1
    extension = contracts.chart_defaults(INFERENCEPOOL)["inferenceExtension"]
    assert extension["latencyPredictor"]["trainingServer"]["port"] == 8000  # from values.inferenceExtension.yaml
    assert extension["latencyPredictor"]["enabled"] is False  # the parent's values.yaml
    extension["replicas"] = 99  # a copy
    assert contracts.chart_defaults(INFERENCEPOOL)["inferenceExtension"]["replicas"] == 1
    with pytest.raises(LookupError, match="no reference chart 'llm-d-modelservice-v9'"):
        contracts.chart_defaults("llm-d-modelservice-v9")


def test_modelservice_known_key_passes_and_misspelt_key_fails() -> None:
    contracts.require_reference()
    assert contracts.validate_helm_values(MODELSERVICE, {"decode": {"replicas": 2}}) == []
    assert contracts.validate_helm_values(MODELSERVICE, {"decode": {"replica": 2}}) == [
        f"{MODELSERVICE}: unknown values key 'decode.replica' (Helm ignores it silently)"
    ]
    # Below a known map that has known children, keys are still checked (the schema agrees here).
    good = {"decode": {"monitoring": {"podmonitor": {"enabled": True}}}}
    assert contracts.validate_helm_values(MODELSERVICE, good) == []
    bad = {"decode": {"monitoring": {"podmonitor": {"enabld": True}}}}
    unknown = f"{MODELSERVICE}: unknown values key 'decode.monitoring.podmonitor.enabld' (Helm ignores it silently)"
    assert unknown in contracts.validate_helm_values(MODELSERVICE, bad)


def test_modelservice_schema_is_checked_on_merged_values() -> None:
    contracts.require_reference()
    assert contracts.validate_helm_values(MODELSERVICE, {"decode": {"replicas": "2"}}) == [
        f"{MODELSERVICE}: values $.decode.replicas: '2' is not of type 'integer'"
    ]
    # decode.parallelism is read whole (opaque to the key check) but the schema closes it.
    assert contracts.validate_helm_values(MODELSERVICE, {"decode": {"parallelism": {"tensor": 4}}}) == []
    assert "('tensr' was unexpected)" in "".join(
        contracts.validate_helm_values(MODELSERVICE, {"decode": {"parallelism": {"tensr": 4}}})
    )
    # null deletes the default; validating the raw user values would reject None as an integer.
    assert contracts.validate_helm_values(MODELSERVICE, {"decode": {"replicas": None}}) == []


def test_free_form_and_used_values_only_keys_pass() -> None:
    contracts.require_reference()
    values = {
        "decode": {
            "nodeSelector": {"karpenter.sh/nodepool": "gpu", "nested": {"anything": ["goes"]}},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],  # only in used-values.txt
        },
        "modelArtifacts": {"labels": {"llm-d.ai/model": "qwen"}},
    }
    assert contracts.validate_helm_values(MODELSERVICE, values) == []
    assert contracts.validate_helm_values(MODELSERVICE, {"decode": {"toleration": []}}) != []


def test_schema_only_keys_pass() -> None:
    contracts.require_reference()
    # "global" is described only by values.schema.json (neither values.yaml nor the templates name it).
    assert contracts.validate_helm_values(MODELSERVICE, {"global": {"imageRegistry": "ecr"}}) == []
    assert contracts.validate_helm_values(MODELSERVICE, {"globals": {}}) == [
        f"{MODELSERVICE}: unknown values key 'globals' (Helm ignores it silently)"
    ]


def test_infra_load_balancer_class_passes() -> None:
    contracts.require_reference()
    values = {"gateway": {"service": {"type": "LoadBalancer", "loadBalancerClass": "eks.amazonaws.com/nlb"}}}
    assert contracts.validate_helm_values(INFRA, values) == []
    errors = contracts.validate_helm_values(INFRA, {"gateway": {"service": {"loadBalancerClas": "x"}}})
    assert f"{INFRA}: unknown values key 'gateway.service.loadBalancerClas' (Helm ignores it silently)" in errors


def test_inferencepool_model_servers_and_opaque_maps() -> None:
    contracts.require_reference()
    values = {
        "inferencePool": {"modelServers": {"matchLabels": {"llm-d.ai/inferenceServing": "true"}}},
        # used-values leaves: read whole although the defaults show example keys
        "inferenceExtension": {"flags": {"kv-cache-usage-percentage-metric": "x"}, "resources": {"limits": {"cpu": 8}}},
    }
    assert contracts.validate_helm_values(INFERENCEPOOL, values) == []
    assert contracts.validate_helm_values(INFERENCEPOOL, {"inferencePool": {"modelServer": {}}}) == [
        f"{INFERENCEPOOL}: unknown values key 'inferencePool.modelServer' (Helm ignores it silently)"
    ]
    # Known only from the dependency's defaults (values.inferenceExtension.yaml).
    predictor = {"trainingServer": {"resources": {"requests": {"cpu": "1"}}}}
    assert contracts.validate_helm_values(INFERENCEPOOL, {"inferenceExtension": {"latencyPredictor": predictor}}) == []
    typo = {"trainingServr": {}}
    assert contracts.validate_helm_values(INFERENCEPOOL, {"inferenceExtension": {"latencyPredictor": typo}}) != []


def test_chart_without_schema_checks_keys() -> None:
    contracts.require_reference()
    # nodeSelector is a used-values leaf: read whole although the defaults show kubernetes.io/os.
    good = {"settings": {"clusterName": "c"}, "nodeSelector": {"karpenter.sh/nodepool": "system"}}
    assert contracts.validate_helm_values(KARPENTER, good) == []
    assert contracts.validate_helm_values(KARPENTER, {"settings": {"clusterNam": "c"}}) == [
        f"{KARPENTER}: unknown values key 'settings.clusterNam' (Helm ignores it silently)"
    ]


def test_list_item_keys_check_list_items() -> None:
    contracts.require_reference()
    containers = {"decode": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai", "imag": "typo"}]}}
    assert contracts.validate_helm_values(MODELSERVICE, containers) == []  # lists are leaves by default
    item_keys = {"decode.containers": CONTAINER_KEYS}
    assert contracts.validate_helm_values(MODELSERVICE, containers, item_keys) == [
        f"{MODELSERVICE}: unknown values key 'decode.containers[0].imag' (Helm ignores it silently)"
    ]
    del containers["decode"]["containers"][0]["imag"]
    assert contracts.validate_helm_values(MODELSERVICE, containers, item_keys) == []
    with pytest.raises(ValueError, match=r"\['decode.container'\]"):
        contracts.validate_helm_values(MODELSERVICE, containers, {"decode.container": CONTAINER_KEYS})
