"""EFA for KV-cache transfer: which nodes have it, how many devices a pod gets, the device plugin.

Prefill-to-decode KV transfer (NIXL) runs over EFA (RDMA) when every allowed
instance family has it; otherwise over TCP. EFA traffic stays inside one
availability zone, so disaggregated model servers are co-located by zone.
"""

from __future__ import annotations

import json
from typing import Any

from ..catalog import instances
from ..config import Settings
from .nodepool import GPU_TOLERATION

EFA_RESOURCE = "vpc.amazonaws.com/efa"
PLUGIN_NAMESPACE = "kube-system"
PLUGIN_RELEASE = "aws-efa-k8s-device-plugin"
ZONE_KEY = "topology.kubernetes.io/zone"


def interfaces_per_gpu(settings: Settings) -> float:
    """EFA interfaces per GPU that every allowed family offers on self-managed Karpenter
    nodes (Karpenter attaches them when a pod asks); 0 unless all families have EFA."""
    families = [instances.family(name) for name in settings.gpu.instance_families]
    if settings.gpu.provisioner != "karpenter" or not all(families):
        return 0.0
    return min(fam.efa_interfaces_per_gpu for fam in families if fam)


def kv_transfer_over_efa(settings: Settings) -> bool:
    """Disaggregated serving on EFA nodes: the device plugin is needed."""
    return settings.serving.path == "pd-disaggregation" and interfaces_per_gpu(settings) > 0


def devices(settings: Settings, gpus: int) -> int:
    """EFA devices for a pod with ``gpus`` GPUs: its share of the node's interfaces, at least one."""
    per_gpu = interfaces_per_gpu(settings)
    return max(1, int(per_gpu * gpus)) if per_gpu else 0


def nixl_kv_transfer_config(settings: Settings) -> str:
    """vLLM ``--kv-transfer-config`` for NIXL; its libfabric backend drives EFA (UCX would use TCP)."""
    config: dict[str, Any] = {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
    if interfaces_per_gpu(settings):
        config["kv_connector_extra_config"] = {"backends": ["LIBFABRIC"]}
    return json.dumps(config, separators=(",", ":"))


def same_zone_affinity(match_labels: dict[str, str]) -> dict[str, Any]:
    """Required pod affinity: every pod with these labels in the zone of the first one."""
    term = {"labelSelector": {"matchLabels": dict(match_labels)}, "topologyKey": ZONE_KEY}
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def plugin_values() -> dict[str, Any]:
    # The DaemonSet selects EFA instance types itself; it must tolerate the GPU taint to get there.
    return {"tolerations": [dict(GPU_TOLERATION)]}
