"""Where things run: on the EKS Auto Mode cluster this program creates or on an
existing cluster, with vLLM on GPUs or llm-d's simulator on CPUs.

The components and guardrails ask these questions instead of reading
``cluster.mode`` and ``model.simulate`` themselves, so the rules live in one place.
"""

from __future__ import annotations

from ..config import Settings
from . import dra
from .names import GPU_NODEPOOL, KARPENTER_GPU_NODEPOOL

NODEPOOL_LABEL = "karpenter.sh/nodepool"  # set by (Auto Mode's) Karpenter on every node it launches
GENERAL_PURPOSE_POOL = "general-purpose"  # Auto Mode's built-in pool for ordinary (CPU) pods


def existing_cluster(settings: Settings) -> bool:
    """The program deploys onto a kubeconfig context and creates nothing in AWS."""
    return settings.cluster.mode == "existing"


def creates_aws_resources(settings: Settings) -> bool:
    return not existing_cluster(settings)


def uses_gpus(settings: Settings) -> bool:
    """Model servers request ``nvidia.com/gpu`` (vLLM), not the CPU-only simulator."""
    return not settings.model.simulate


def creates_gpu_capacity(settings: Settings) -> bool:
    """This program provisions the GPU nodes: real model servers on a cluster it owns."""
    return creates_aws_resources(settings) and uses_gpus(settings)


def model_server_node_selector(settings: Settings) -> dict[str, str]:
    """GPU servers go to the GPU NodePool (Auto Mode's or self-managed Karpenter's) or the DRA node
    group, simulators to Auto Mode's general-purpose pool; on an existing cluster placement is the
    cluster's business."""
    if existing_cluster(settings):
        return {}
    if uses_gpus(settings) and settings.gpu.provisioner == "managed-node-group":
        return dra.model_server_node_selector()
    if not uses_gpus(settings):
        return {NODEPOOL_LABEL: GENERAL_PURPOSE_POOL}
    # Self-managed Karpenter sets the same label on its nodes, with its own pool's name.
    return {NODEPOOL_LABEL: KARPENTER_GPU_NODEPOOL if settings.gpu.provisioner == "karpenter" else GPU_NODEPOOL}
