"""NVIDIA GPU Operator: Helm values and the GPU node labels it relies on.

The operator adds what the node image lacks. Both node images this program
uses ship the NVIDIA driver and container toolkit (EKS Auto Mode's Bottlerocket
and the EKS AL2023 NVIDIA AMI), so the operator never installs them. What
differs is who advertises ``nvidia.com/gpu``:

- Auto Mode nodes: AWS runs its own device plugin, so the operator's stays
  off (in the values, and per node through the deploy label the operator
  honours), and MIG is impossible (the NodeClass is AWS-managed).
- Self-managed nodes (Karpenter): the operator's device plugin advertises the
  GPUs, and its MIG manager partitions them when ``gpu.mig`` is set.

The ServiceMonitor for the DCGM exporter is created by the operator at
reconcile time, not by the chart. Without the Prometheus Operator CRDs the
operator marks the exporter state NotReady and the ClusterPolicy never turns
ready, so it is switched on only when the stack installs those CRDs.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from . import modes

RELEASE = "gpu-operator"
NAMESPACE = "gpu-operator"
# A deploy label already on a node wins over the operator's own labelling
# (controllers/state_manager.go: "honor the current value").
DEVICE_PLUGIN_DEPLOY_LABEL = "nvidia.com/gpu.deploy.device-plugin"
# The MIG manager applies the mig-parted profile named by this node label.
MIG_CONFIG_LABEL = "nvidia.com/mig.config"


def deployed(settings: Settings) -> bool:
    """The operator runs on the GPU nodes this program creates; ``gpu.operator`` alone asks for nothing
    where there are none (``model.simulate``, an existing cluster)."""
    return modes.creates_gpu_capacity(settings) and settings.gpu.operator


def gpu_node_labels(settings: Settings, *, auto_mode_nodes: bool) -> dict[str, str]:
    """Labels the GPU NodePool puts on its nodes for the operator."""
    if auto_mode_nodes:
        return {DEVICE_PLUGIN_DEPLOY_LABEL: "false"}
    mig = settings.gpu.mig
    return {MIG_CONFIG_LABEL: mig.profile} if mig is not None else {}


def gpu_operator_values(settings: Settings, *, auto_mode_nodes: bool, service_monitor: bool) -> dict[str, Any]:
    mig = settings.gpu.mig
    mig_manager = not auto_mode_nodes and mig is not None
    values: dict[str, Any] = {
        # The node image provides both; the operator's containers would fight it.
        "driver": {"enabled": False},
        "toolkit": {"enabled": False},
        # Off on Auto Mode: AWS's plugin already owns nvidia.com/gpu. This also
        # drops the validator's plugin check, which would claim a GPU to test.
        "devicePlugin": {"enabled": not auto_mode_nodes},
        "migManager": {"enabled": mig_manager},
        # Per-GPU telemetry (SM activity, memory, power, XID errors): the reason
        # to run the operator on Auto Mode at all.
        "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": service_monitor}},
        # NFD finds the NVIDIA PCI devices the operator keys on; GFD publishes
        # nvidia.com/gpu.product, .memory, .count for scheduling by GPU model.
        "nfd": {"enabled": True},
        "gfd": {"enabled": True},
    }
    if mig_manager:
        values["mig"] = {"strategy": mig.strategy}
    return values
