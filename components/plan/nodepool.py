"""Auto Mode GPU capacity: the custom ``NodeClass`` and the ``karpenter.sh/v1`` NodePool."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..catalog import instances
from ..config import Settings
from .names import GPU_NODEPOOL, GPU_RESOURCE

AUTO_NODE_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy"
# Managed policies an Auto Mode node role needs (EKS user guide, "Auto Mode node IAM role").
AUTO_NODE_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodeMinimalPolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)
GPU_TAINT = {"key": GPU_RESOURCE, "effect": "NoSchedule"}
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}


def _gib(quantity: int) -> str:
    return f"{quantity}Gi"


def nodepool_limits(settings: Settings) -> dict[str, str]:
    """``limits`` as a plain resource map. cpu and memory are the most the GPU
    budget can bring with any allowed size, so they never stop the pool short
    of ``gpu.maxGpus``; unknown families fall back to a GPU-only limit."""
    max_gpus = settings.gpu.max_gpus
    limits = {GPU_RESOURCE: str(max_gpus)}
    families = [instances.family(name) for name in settings.gpu.instance_families]
    if all(families):
        sizes = [size for fam in families if fam for size in fam.sizes]
        limits["cpu"] = str(max(math.ceil(max_gpus / s.gpus) * s.vcpu for s in sizes))
        limits["memory"] = _gib(max(math.ceil(max_gpus / s.gpus) * s.memory_gib for s in sizes))
    return limits


def node_class_spec(settings: Settings, role_name: Any, subnet_ids: Any, security_group_id: Any) -> dict[str, Any]:
    """``eks.amazonaws.com/v1`` NodeClass: the default 80Gi disk is too small for
    vLLM images plus a model download, so the GPU nodes get ``gpu.ephemeralStorage``."""
    return {
        "role": role_name,
        "subnetSelectorTerms": [{"id": subnet_id} for subnet_id in subnet_ids],
        "securityGroupSelectorTerms": [{"id": security_group_id}],
        "ephemeralStorage": {"size": settings.gpu.ephemeral_storage},
        # No `tags`: Auto Mode's managed cluster-role policies do not allow user-defined
        # tags on the instances it launches (EKS user guide, "Custom AWS tags for EKS Auto
        # resources"); with tags and without extra permissions the nodes never launch.
    }


def gpu_node_pool_spec(
    settings: Settings,
    *,
    node_class_ref: dict[str, str],
    family_label: str,
    node_labels: dict[str, str] | None = None,
    extra_requirements: Sequence[dict[str, Any]] = (),
    extra_disruption: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``karpenter.sh/v1`` GPU NodePool, for Auto Mode's Karpenter or a self-managed one."""
    gpu = settings.gpu
    template: dict[str, Any] = {
        "spec": {
            "nodeClassRef": dict(node_class_ref),
            "requirements": [
                # Explicit families: a category ([g] or [g, p]) silently excludes
                # P types or reaches for the G quota first.
                {"key": family_label, "operator": "In", "values": list(gpu.instance_families)},
                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(gpu.capacity_types)},
                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                *(dict(r) for r in extra_requirements),
            ],
            "taints": [dict(GPU_TAINT)],
        }
    }
    if node_labels:
        template["metadata"] = {"labels": dict(node_labels)}
    return {
        "template": template,
        "limits": nodepool_limits(settings),
        "disruption": {
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": gpu.consolidate_after,
            **(extra_disruption or {}),
        },
    }


def node_pool_spec(settings: Settings, node_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The Auto Mode GPU NodePool (``eks.amazonaws.com/`` labels, the custom NodeClass)."""
    return gpu_node_pool_spec(
        settings,
        node_class_ref={"group": "eks.amazonaws.com", "kind": "NodeClass", "name": GPU_NODEPOOL},
        family_label="eks.amazonaws.com/instance-family",
        node_labels=node_labels,
    )
