"""MIG: only on MIG-capable GPUs, in shapes vLLM can use.

MIG on Auto Mode (or any provisioner but self-managed Karpenter) and MIG without
the GPU Operator are refused in ``phases.py`` (GR-PHASE-MIG-PROVISIONER,
GR-PHASE-MIG-OPERATOR).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...catalog import instances
from ...config import Settings
from .. import pd
from . import Finding, Scope, Severity, key, rule

# mig-parted profile names of the GPU Operator's default config: all-<compute>g.<memory>gb
_UNIFORM_PROFILE = re.compile(r"^all-(?P<compute>[1-7])g\.(?P<memory>[0-9]+)gb(\.me)?$")
_WHOLE_PROFILES = {"all-disabled", "all-enabled", "all-balanced"}


@rule("GR-MIG-GPU", scope=Scope.GPU_CAPACITY)
def mig_needs_mig_capable_gpus(settings: Settings) -> Iterator[Finding]:
    if settings.gpu.mig is None:
        return
    incapable = []
    for name in settings.gpu.instance_families:
        family = instances.family(name)
        if family is None or not family.mig_capable:
            incapable.append(f"{name} ({family.gpu.model if family else 'unknown GPU'})")
    if incapable:
        capable = sorted(f.name for f in instances.FAMILIES.values() if f.mig_capable)
        yield Finding(
            "GR-MIG-GPU",
            Severity.ERROR,
            key("gpu.mig"),
            f"gpu.instanceFamilies includes GPUs without MIG: {', '.join(incapable)}; only A100, H100, H200 "
            "and B200 can be partitioned, so the MIG manager would leave these nodes as they are.",
            f"remove gpu.mig, or use only MIG families ({', '.join(capable)}).",
        )


@rule("GR-MIG-STRATEGY", scope=Scope.GPU_CAPACITY)
def mig_strategy_single(settings: Settings) -> Iterator[Finding]:
    mig = settings.gpu.mig
    if mig is not None and mig.strategy == "mixed":
        yield Finding(
            "GR-MIG-STRATEGY",
            Severity.ERROR,
            key("gpu.mig.strategy"),
            "the mixed strategy advertises slices as nvidia.com/mig-<profile>, but the model servers "
            "request nvidia.com/gpu and would never schedule.",
            "use strategy: single.",
        )


@rule("GR-MIG-TENSOR-PARALLEL", scope=Scope.GPU_CAPACITY)
def mig_slices_are_single_gpus(settings: Settings) -> Iterator[Finding]:
    if settings.gpu.mig is None:
        return
    sizes = {"model.tensorParallelism": settings.model.tensor_parallelism}
    if settings.serving.path == "pd-disaggregation":
        sizes["serving.prefill.tensorParallelism"] = pd.prefill(settings).tensor_parallelism
    for path, size in sizes.items():
        if size > 1:
            yield Finding(
                "GR-MIG-TENSOR-PARALLEL",
                Severity.ERROR,
                key(path),
                f"{size}: MIG slices cannot be joined for tensor parallelism (no peer-to-peer between MIG instances).",
                "set it to 1 with a slice that holds the model, or remove gpu.mig.",
            )


@rule("GR-MIG-PROFILE", scope=Scope.GPU_CAPACITY)
def mig_profile_fits_the_gpu(settings: Settings) -> Iterator[Finding]:
    mig = settings.gpu.mig
    if mig is None or mig.profile in _WHOLE_PROFILES:
        return
    match = _UNIFORM_PROFILE.match(mig.profile)
    if match is None:
        yield Finding(
            "GR-MIG-PROFILE",
            Severity.WARNING,
            key("gpu.mig.profile"),
            f"{mig.profile!r} is not a profile of the GPU Operator's default MIG config (all-<n>g.<m>gb, "
            "all-balanced, all-disabled); the nodes stay unpartitioned unless a custom config defines it.",
            "use a default profile, or supply the custom mig-parted config to the GPU Operator.",
        )
        return
    memory_gb = int(match.group("memory"))
    for name in settings.gpu.instance_families:
        family = instances.family(name)
        if family is not None and memory_gb * 1000**3 > family.gpu.memory_mib * 1024**2:
            yield Finding(
                "GR-MIG-PROFILE",
                Severity.ERROR,
                key("gpu.mig.profile"),
                f"{mig.profile}: a {memory_gb} GB slice does not fit a {family.gpu.model} ({name}, "
                f"{family.gpu.memory_mib} MiB).",
                "pick a smaller slice, e.g. all-1g.10gb or all-3g.40gb on 80 GB GPUs.",
            )
