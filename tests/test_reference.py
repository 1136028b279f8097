"""What the program emits, checked against the upstream contracts in ../shared/reference."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.mockrun import Recording
from tests import contracts, extra_reference
from tests.test_program import RUNS

# Release name -> reference chart folder.
CHARTS = {
    "llm-d-infra": "llm-d-infra-v1.4.0",
    "llm-d-inferencepool": "inferencepool-v1.4.0",
    "llm-d-modelservice": "llm-d-modelservice-v0.4.9",
    "gpu-operator": "gpu-operator-v26.3.3",
    "karpenter": "karpenter-1.14.1",
    "nvidia-dra-driver-gpu": "dra-driver-nvidia-gpu-0.4.0",
    "cluster-autoscaler": "cluster-autoscaler-9.59.0",
}
# Keys the modelservice chart's `container` helper reads from each
# decode/prefill container (templates/_helpers.tpl at llm-d-modelservice-v0.4.9);
# used-values.txt cannot list them because they are read inside a range.
MODELSERVICE_CONTAINER_KEYS = {
    "name",
    "image",
    "extraConfig",
    "securityContext",
    "imagePullPolicy",
    "modelCommand",
    "command",
    "args",
    "env",
    "ports",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "resources",
    "mountModelVolume",
    "volumeMounts",
    "workingDir",
    "stdin",
    "tty",
}
# decode/prefill.initContainers are rendered verbatim (toYaml): Kubernetes Container fields,
# as the chart's schema lists them (it leaves the items open, so a typo would pass it).
KUBERNETES_CONTAINER_KEYS = {
    "args",
    "command",
    "env",
    "envFrom",
    "image",
    "imagePullPolicy",
    "lifecycle",
    "livenessProbe",
    "name",
    "ports",
    "readinessProbe",
    "resizePolicy",
    "resources",
    "restartPolicy",
    "restartPolicyRules",
    "securityContext",
    "startupProbe",
    "stdin",
    "stdinOnce",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "tty",
    "volumeDevices",
    "volumeMounts",
    "workingDir",
}
LIST_ITEM_KEYS = {
    "llm-d-modelservice-v0.4.9": {
        "decode.containers": MODELSERVICE_CONTAINER_KEYS,
        "prefill.containers": MODELSERVICE_CONTAINER_KEYS,
        "decode.initContainers": KUBERNETES_CONTAINER_KEYS,
        "prefill.initContainers": KUBERNETES_CONTAINER_KEYS,
    }
}
# eks.amazonaws.com/v1 NodeClass fields (ARCHITECTURE §6; the CRD is AWS-managed, not published).
NODECLASS_FIELDS = {
    "role",
    "subnetSelectorTerms",
    "securityGroupSelectorTerms",
    "podSubnetSelectorTerms",
    "snatPolicy",
    "networkPolicy",
    "networkPolicyEventLogs",
    "ephemeralStorage",
    "advancedNetworking",
    "advancedSecurity",
    "certificateBundles",
    "capacityReservationSelectorTerms",
    "tags",
}
EPHEMERAL_STORAGE_FIELDS = {"size", "iops", "throughput", "kmsKeyID"}


@pytest.fixture(params=RUNS, ids=[name for name, _ in RUNS])
def recording(request: pytest.FixtureRequest) -> Recording:
    contracts.require_reference()
    return request.param[1]


def _object(reg: Any) -> dict[str, Any]:
    return {key: reg.inputs[key] for key in ("apiVersion", "kind", "metadata", "spec") if key in reg.inputs}


def test_custom_resources_validate_against_their_crds(recording: Recording) -> None:
    known = contracts.known_crd_kinds()
    checked = set()
    for reg in recording.custom_resources():
        if (reg.inputs["apiVersion"], reg.inputs["kind"]) not in known:
            continue
        assert contracts.validate_custom_resource(_object(reg)) == [], f"{reg.type} {reg.name}"
        checked.add(reg.inputs["kind"])
    # Every stack has the HTTPRoute; the GPU NodePool, where the stack creates GPU capacity.
    expected = {"HTTPRoute"} | ({"NodePool"} if recording.of_type("kubernetes:karpenter.sh/v1:NodePool") else set())
    assert checked == expected


def test_auto_mode_nodeclass_uses_only_documented_fields(recording: Recording) -> None:
    for reg in recording.custom_resources("eks.amazonaws.com/v1", "NodeClass"):
        spec = reg.inputs["spec"]
        assert set(spec) <= NODECLASS_FIELDS
        assert set(spec["ephemeralStorage"]) <= EPHEMERAL_STORAGE_FIELDS
        assert spec["role"] and spec["subnetSelectorTerms"] and spec["securityGroupSelectorTerms"]
        # User-defined tags need extra cluster-role permissions Auto Mode's managed policies lack.
        assert "tags" not in spec


# Releases whose charts are not in ../shared/reference: Istio's (checked below against
# tests/reference_extra), and the operations charts (kube-prometheus-stack, keda) checked
# against tests/reference_extra in tests/test_operations.py.
OTHER_NAMESPACES = {"istio-system", "monitoring", "keda"}
ISTIO_CHARTS = {"istio-base": "istio-base-1.29.1", "istiod": "istiod-1.29.1"}


def test_every_llm_d_release_has_a_reference_chart(recording: Recording) -> None:
    llm_d = {r.inputs["name"] for r in recording.helm_releases() if r.inputs.get("namespace") not in OTHER_NAMESPACES}
    assert llm_d <= set(CHARTS), f"releases without reference data: {llm_d - set(CHARTS)}"


def test_helm_values_are_valid_and_known(recording: Recording) -> None:
    for reg in recording.helm_releases():
        chart = CHARTS.get(reg.inputs["name"])
        if chart is None:
            continue  # Istio's charts: test_istio_values_are_known_keys
        values = dict(reg.inputs.get("values", {}))
        assert contracts.validate_helm_values(chart, values, LIST_ITEM_KEYS.get(chart)) == [], reg.name


def test_istio_values_are_known_keys(recording: Recording) -> None:
    for reg in recording.helm_releases():
        chart = ISTIO_CHARTS.get(reg.inputs["name"])
        if chart is not None:
            assert extra_reference.unknown_values_keys(chart, dict(reg.inputs.get("values", {}))) == [], reg.name


def test_istiod_key_list_catches_the_pre_1_21_layout() -> None:
    # istiod 1.29 takes `env` at the top level; `pilot.env` would be ignored without a word.
    assert extra_reference.unknown_values_keys("istiod-1.29.1", {"env": {"X": "1"}}) == []
    assert extra_reference.unknown_values_keys("istiod-1.29.1", {"pilot": {"env": {"X": "1"}}}) != []


def test_init_container_keys_are_the_schemas_container_fields() -> None:
    contracts.require_reference()
    schema = json.loads(
        (contracts.REFERENCE_DIR / "charts" / "llm-d-modelservice-v0.4.9" / "values.schema.json").read_text()
    )
    for role in ("decode", "prefill"):
        items = schema["properties"][role]["properties"]["initContainers"]["items"]
        assert set(items["properties"]) == KUBERNETES_CONTAINER_KEYS, role


def test_validation_catches_a_misspelt_values_key() -> None:
    contracts.require_reference()
    _, recording = RUNS[0]
    values = dict(recording.release("llm-d-modelservice").inputs["values"])
    values["decode"] = {**values["decode"], "replica": 3}
    problems = contracts.validate_helm_values("llm-d-modelservice-v0.4.9", values)
    assert any("decode.replica" in p for p in problems)
