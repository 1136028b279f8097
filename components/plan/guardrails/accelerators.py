"""GPU sharing and allocation: what each provisioner and Kubernetes version can do.

MIG and DRA against the provisioner are phase contradictions (``phases.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...config import Settings
from . import Finding, Severity, key, rule

DRA_GA_MINOR = 34  # resource.k8s.io/v1 (DRA GA) from Kubernetes 1.34


@rule("GR-GPU-TIME-SLICING-PROVISIONER")
def time_slicing_needs_karpenter(settings: Settings) -> Iterator[Finding]:
    gpu = settings.gpu
    if gpu.time_slicing is not None and gpu.provisioner != "karpenter":
        yield Finding(
            "GR-GPU-TIME-SLICING-PROVISIONER",
            Severity.ERROR,
            key("gpu.timeSlicing"),
            f"GPU time-slicing is configured through the GPU Operator's device plugin on self-managed Karpenter "
            f"nodes, not on {gpu.provisioner}: Auto Mode's device plugin is AWS-managed and exposes whole GPUs.",
            "remove gpu.timeSlicing, or use phase 2a.",
        )


@rule("GR-DRA-KUBERNETES-VERSION")
def dra_needs_kubernetes_1_34(settings: Settings) -> Iterator[Finding]:
    if settings.gpu.dra and settings.cluster.minor_version < DRA_GA_MINOR:
        yield Finding(
            "GR-DRA-KUBERNETES-VERSION",
            Severity.ERROR,
            key("cluster.kubernetesVersion"),
            f"DRA is requested on Kubernetes {settings.cluster.kubernetes_version}; the NVIDIA DRA driver needs "
            f"the GA resource.k8s.io/v1 API of 1.{DRA_GA_MINOR}.",
            f'set cluster.kubernetesVersion to "1.{DRA_GA_MINOR}" or later, or gpu.dra: false.',
        )
