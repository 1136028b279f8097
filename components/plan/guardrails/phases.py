"""Contradictions between a phase's preset and explicit keys."""

from __future__ import annotations

from collections.abc import Iterator

from ...config import NAMESPACE, Settings
from . import Finding, Scope, Severity, rule


@rule("GR-PHASE-DRA-PROVISIONER", scope=Scope.GPU_CAPACITY)
def dra_needs_managed_node_group(settings: Settings) -> Iterator[Finding]:
    gpu = settings.gpu
    if gpu.dra and gpu.provisioner != "managed-node-group":
        yield Finding(
            "GR-PHASE-DRA-PROVISIONER",
            Severity.ERROR,
            f"{NAMESPACE}:gpu.dra",
            f"DRA needs gpu.provisioner managed-node-group, not {gpu.provisioner}: neither Auto Mode nor "
            "Karpenter can provision nodes for ResourceClaims. Use phase 2b or set gpu.dra: false.",
        )


@rule("GR-PHASE-MIG-PROVISIONER", scope=Scope.GPU_CAPACITY)
def mig_needs_karpenter(settings: Settings) -> Iterator[Finding]:
    gpu = settings.gpu
    if gpu.mig is not None and gpu.provisioner != "karpenter":
        yield Finding(
            "GR-PHASE-MIG-PROVISIONER",
            Severity.ERROR,
            f"{NAMESPACE}:gpu.mig",
            f"MIG needs self-managed Karpenter nodes with the GPU Operator (phase 2a/3), not {gpu.provisioner}: "
            "Auto Mode's NodeClass is AWS-managed and cannot partition GPUs. Remove gpu.mig or use phase 2a.",
        )
