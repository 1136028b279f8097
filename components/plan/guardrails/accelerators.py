"""GPU sharing and allocation: what each provisioner and Kubernetes version can do.

MIG and DRA against the provisioner are phase contradictions (``phases.py``);
DRA's own rules (Kubernetes version, node group) are in ``dra.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...config import Settings
from . import Finding, Scope, Severity, key, rule


@rule("GR-GPU-TIME-SLICING-PROVISIONER", scope=Scope.GPU_CAPACITY)
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
