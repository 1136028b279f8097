"""Contradictions between a phase's preset and explicit keys.

The preset and the explicit keys are combined first (``config.resolve``);
these rules check the combination.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...config import Settings
from . import Finding, Scope, Severity, key, rule


@rule("GR-PHASE-DRA-PROVISIONER", scope=Scope.GPU_CAPACITY)
def dra_needs_managed_node_group(settings: Settings) -> Iterator[Finding]:
    gpu = settings.gpu
    if gpu.dra and gpu.provisioner != "managed-node-group":
        yield Finding(
            "GR-PHASE-DRA-PROVISIONER",
            Severity.ERROR,
            key("gpu.dra"),
            f"DRA needs gpu.provisioner managed-node-group, not {gpu.provisioner}: neither Auto Mode nor "
            "Karpenter can provision nodes for ResourceClaims.",
            "use phase 2b, or set gpu.dra: false.",
        )


@rule("GR-PHASE-MIG-PROVISIONER", scope=Scope.GPU_CAPACITY)
def mig_needs_karpenter(settings: Settings) -> Iterator[Finding]:
    gpu = settings.gpu
    if gpu.mig is not None and gpu.provisioner != "karpenter":
        yield Finding(
            "GR-PHASE-MIG-PROVISIONER",
            Severity.ERROR,
            key("gpu.mig"),
            f"MIG needs self-managed Karpenter nodes with the GPU Operator (phase 2a/3), not {gpu.provisioner}: "
            "Auto Mode's NodeClass is AWS-managed and cannot partition GPUs.",
            "remove gpu.mig, or use phase 2a.",
        )


@rule("GR-PHASE-MIG-OPERATOR", scope=Scope.GPU_CAPACITY)
def mig_needs_the_operator(settings: Settings) -> Iterator[Finding]:
    gpu = settings.gpu
    if gpu.mig is not None and not gpu.operator:
        yield Finding(
            "GR-PHASE-MIG-OPERATOR",
            Severity.ERROR,
            key("gpu.operator"),
            "gpu.mig is set but gpu.operator is false: the MIG manager that partitions the GPUs is part of "
            "the NVIDIA GPU Operator.",
            "remove gpu.operator: false (phases 2a and 3 turn it on), or remove gpu.mig.",
        )


@rule("GR-PHASE-PREFILL-PATH")
def prefill_needs_disaggregation(settings: Settings) -> Iterator[Finding]:
    serving = settings.serving
    explicit = "serving.prefill" not in settings.preset_applied
    if serving.prefill is not None and explicit and serving.path != "pd-disaggregation":
        yield Finding(
            "GR-PHASE-PREFILL-PATH",
            Severity.ERROR,
            key("serving.prefill"),
            f"serving.prefill is set but serving.path is {serving.path}: prefill workers exist only with "
            "prefill/decode disaggregation, so these GPUs would never be used.",
            "remove serving.prefill, or set serving.path: pd-disaggregation (phase 2a).",
        )
