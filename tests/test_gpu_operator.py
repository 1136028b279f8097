"""Phase 1.5: the NVIDIA GPU Operator on Auto Mode GPU nodes, and its values for self-managed nodes."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import Settings, resolve
from components.mockrun import Recording
from components.plan.gpu_operator import gpu_node_labels, gpu_operator_values
from tests import contracts
from tests.conftest import ROOT, base_config, cluster_and_vpc_urns, run_program, stack_config, values

CHART = "gpu-operator-v26.3.3"
RELEASE = "kubernetes:helm.sh/v3:Release"
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
DEVICE_PLUGIN_LABEL = "nvidia.com/gpu.deploy.device-plugin"


def settings(**raw: Any) -> Settings:
    return resolve(raw, "t", region="us-west-2")


MIG = {"strategy": "single", "profile": "all-3g.40gb"}
VARIANTS: dict[str, tuple[Settings, bool, bool]] = {  # settings, auto_mode_nodes, service_monitor
    "auto-mode": (settings(phase="1.5"), True, False),
    "auto-mode-monitored": (settings(phase="1.5"), True, True),
    "karpenter": (settings(gpu={"provisioner": "karpenter", "operator": True}), False, True),
    "karpenter-mig": (settings(gpu={"provisioner": "karpenter", "operator": True, "mig": MIG}), False, True),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_values_are_valid_for_the_chart(variant: str) -> None:
    contracts.require_reference()
    config, auto_mode_nodes, service_monitor = VARIANTS[variant]
    values = gpu_operator_values(config, auto_mode_nodes=auto_mode_nodes, service_monitor=service_monitor)
    assert contracts.validate_helm_values(CHART, values) == []
    # The chart passes dcgmExporter.serviceMonitor whole into the ClusterPolicy (the key
    # check stops there), so its keys are checked against the chart's defaults here.
    service_monitor_keys = contracts.chart_defaults(CHART)["dcgmExporter"]["serviceMonitor"].keys()
    assert values["dcgmExporter"]["serviceMonitor"].keys() <= service_monitor_keys


def test_auto_mode_nodes_keep_the_aws_gpu_stack() -> None:
    values = gpu_operator_values(settings(phase="1.5"), auto_mode_nodes=True, service_monitor=False)
    assert values["driver"] == {"enabled": False}
    assert values["toolkit"] == {"enabled": False}
    assert values["devicePlugin"] == {"enabled": False}, "AWS's device plugin owns nvidia.com/gpu on Auto Mode"
    assert values["migManager"] == {"enabled": False}
    assert "mig" not in values
    assert values["dcgmExporter"]["enabled"] is True
    assert values["nfd"] == {"enabled": True} and values["gfd"] == {"enabled": True}
    assert gpu_node_labels(settings(phase="1.5"), auto_mode_nodes=True) == {DEVICE_PLUGIN_LABEL: "false"}


def test_service_monitor_follows_the_monitoring_crds() -> None:
    for enabled in (False, True):
        values = gpu_operator_values(settings(phase="1.5"), auto_mode_nodes=True, service_monitor=enabled)
        assert values["dcgmExporter"]["serviceMonitor"] == {"enabled": enabled}


def test_self_managed_nodes_get_the_device_plugin_and_mig_from_config() -> None:
    plain, _, _ = VARIANTS["karpenter"]
    values = gpu_operator_values(plain, auto_mode_nodes=False, service_monitor=True)
    assert values["devicePlugin"] == {"enabled": True}
    assert values["migManager"] == {"enabled": False} and "mig" not in values
    assert gpu_node_labels(plain, auto_mode_nodes=False) == {}

    with_mig, _, _ = VARIANTS["karpenter-mig"]
    values = gpu_operator_values(with_mig, auto_mode_nodes=False, service_monitor=True)
    assert values["migManager"] == {"enabled": True}
    assert values["mig"] == {"strategy": "single"}
    assert gpu_node_labels(with_mig, auto_mode_nodes=False) == {"nvidia.com/mig.config": "all-3g.40gb"}


# --- the program under mocks ---------------------------------------------------------------------


def _phase15() -> Recording:
    stack, config, secrets = stack_config(ROOT / "Pulumi.phase15.yaml")
    return run_program(stack, config, secrets)


PHASE15 = _phase15()


def test_phase15_deploys_the_pinned_operator_on_the_cluster_provider() -> None:
    operator = PHASE15.release("gpu-operator")
    assert (operator.inputs["chart"], operator.inputs["version"]) == ("gpu-operator", "v26.3.3")
    assert operator.inputs["repositoryOpts"]["repo"] == "https://helm.ngc.nvidia.com/nvidia"
    assert operator.inputs["namespace"] == "gpu-operator" and operator.inputs["createNamespace"] is True
    assert operator.provider_urn == PHASE15.one("pulumi:providers:kubernetes").urn
    assert PHASE15.by_urn(operator.parent).type == "llmd:gpu:GpuOperator"
    assert PHASE15.outputs["versions"]["gpuOperator"] == "v26.3.3"


def test_recorded_values_are_valid_for_the_chart() -> None:
    contracts.require_reference()
    assert contracts.validate_helm_values(CHART, values(PHASE15.release("gpu-operator"))) == []


def test_phase15_keeps_the_operator_device_plugin_off_the_auto_mode_nodes() -> None:
    operator = values(PHASE15.release("gpu-operator"))
    assert operator["devicePlugin"] == {"enabled": False}
    assert (operator["driver"], operator["toolkit"], operator["migManager"]) == ({"enabled": False},) * 3
    labels = PHASE15.one(NODEPOOL).inputs["spec"]["template"]["metadata"]["labels"]
    assert labels[DEVICE_PLUGIN_LABEL] == "false"


def test_labelled_nodepool_is_valid_for_its_crd() -> None:
    contracts.require_reference()
    nodepool = PHASE15.one(NODEPOOL).inputs
    resource = {key: nodepool[key] for key in ("apiVersion", "kind", "metadata", "spec")}
    assert contracts.validate_custom_resource(resource) == []


def test_without_observability_the_service_monitor_stays_off() -> None:
    # No Prometheus Operator CRDs in this stack: the operator would keep its
    # ClusterPolicy NotReady waiting for a ServiceMonitor kind that never comes.
    recording = run_program("unmonitored", base_config(phase="1.5"))  # dev config: observability off
    operator = values(recording.release("gpu-operator"))
    assert operator["dcgmExporter"] == {"enabled": True, "serviceMonitor": {"enabled": False}}
    assert not [r for r in recording.resources if r.inputs.get("apiVersion", "").startswith("monitoring.coreos.com/")]


def test_with_observability_the_service_monitor_is_on_and_waits_for_the_crds() -> None:
    contracts.require_reference()
    recording = PHASE15  # observability on by default
    operator = recording.release("gpu-operator")
    monitoring_stack = recording.release("kube-prometheus-stack")  # installs the monitoring.coreos.com CRDs
    assert values(operator)["dcgmExporter"]["serviceMonitor"] == {"enabled": True}
    assert monitoring_stack.urn in recording.waits_for(operator)
    assert contracts.validate_helm_values(CHART, values(operator)) == []


def test_phase_1_has_no_operator_and_the_same_gpu_nodepool() -> None:
    phase1 = run_program("switch", base_config(phase="1"))
    phase15 = run_program("switch", base_config(phase="1.5"))
    assert [r.inputs["name"] for r in phase1.helm_releases() if r.inputs["name"] == "gpu-operator"] == []
    assert "gpuOperator" not in phase1.outputs["versions"]
    # Same NodePool template in both: adding the operator must not drift (and replace) GPU nodes.
    assert phase1.one(NODEPOOL).inputs == phase15.one(NODEPOOL).inputs
    assert cluster_and_vpc_urns(phase1) == cluster_and_vpc_urns(phase15)
