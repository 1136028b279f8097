"""GPU instance families and capacity types: known, launchable by the provisioner, one category, within quota."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from ...catalog import instances
from ...catalog.instances import SEED_DEFAULT_QUOTA_VCPU, AutoModeSupport
from ...config import Settings
from ..capacity import full_scale_nodes, is_node_pool, placement
from . import Finding, Scope, Severity, key, rule

FAMILIES_KEY = "gpu.instanceFamilies"


def _hint(name: str) -> str:
    if "." in name:
        return f"{name!r} is an instance type; list its family {name.split('.', 1)[0]!r}."
    if name in {"g", "p"}:
        return (
            f"{name!r} is an instance category: [g] silently excludes every P family and [g, p] reaches for "
            "the (often zero) G quota first; list families."
        )
    named = [family for family in instances.FAMILIES if family.startswith(f"{name}-")]
    if named:
        return (
            f"family names are literal: a bare {name!r} matches nothing; did you mean {' or '.join(map(repr, named))}?"
        )
    close = difflib.get_close_matches(name, list(instances.FAMILIES), n=2, cutoff=0.5)
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


@rule("GR-GPU-UNKNOWN", scope=Scope.GPU_CAPACITY)
def known_families(settings: Settings) -> Iterator[Finding]:
    """NodePool families; a managed node group's instance types are GR-DRA-INSTANCE-TYPES."""
    if not is_node_pool(settings):
        return
    for name in settings.gpu.instance_families:
        if instances.family(name) is not None:
            continue
        yield Finding(
            "GR-GPU-UNKNOWN",
            Severity.ERROR,
            key(FAMILIES_KEY),
            f"{name!r} is not a GPU family this program knows: it may match no instance at all, and nothing "
            f"checks that the model fits it. {_hint(name)}".rstrip(),
            f"use one of {', '.join(instances.FAMILIES)}, or add it to components/catalog/instances.py.",
        )


def _auto_mode_families(settings: Settings, support: AutoModeSupport) -> list[str]:
    if settings.gpu.provisioner != "auto-mode":
        return []
    return [
        name
        for name in settings.gpu.instance_families
        if (family := instances.family(name)) is not None and family.auto_mode == support
    ]


@rule("GR-GPU-AUTO-MODE-UNSUPPORTED", scope=Scope.GPU_CAPACITY)
def auto_mode_can_launch(settings: Settings) -> Iterator[Finding]:
    for name in _auto_mode_families(settings, AutoModeSupport.UNSUPPORTED):
        yield Finding(
            "GR-GPU-AUTO-MODE-UNSUPPORTED",
            Severity.ERROR,
            key(FAMILIES_KEY),
            f"EKS Auto Mode cannot launch {name!r} (NoCompatibleInstanceTypes; fractional g6f GPUs are not "
            "whole nvidia.com/gpu): pods would stay Pending on a NodePool that never scales.",
            "use a supported family (g5, g6, g6e, p4d, p4de, p5), or self-managed Karpenter (phase 2a).",
        )


@rule("GR-GPU-AUTO-MODE-LIMITED", scope=Scope.GPU_CAPACITY)
def auto_mode_may_not_launch(settings: Settings) -> Iterator[Finding]:
    for name in _auto_mode_families(settings, AutoModeSupport.LIMITED):
        yield Finding(
            "GR-GPU-AUTO-MODE-LIMITED",
            Severity.WARNING,
            key(FAMILIES_KEY),
            f"EKS Auto Mode accepts {name!r} in a dry run but its offering matching may fail (seed support "
            "matrix, 2026-04): nodes may never launch.",
            "list p5 as well as a fallback, or check `kubectl get nodeclaims` right after pulumi up.",
        )


@rule("GR-GPU-CATEGORY-MIX", scope=Scope.GPU_CAPACITY)
def one_category(settings: Settings) -> Iterator[Finding]:
    if not is_node_pool(settings):
        return
    by_category: dict[str, list[str]] = {}
    for name in settings.gpu.instance_families:
        if (family := instances.family(name)) is not None:
            by_category.setdefault(family.category, []).append(name)
    if len(by_category) > 1:
        listed = "; ".join(f"{cat.upper()}: {', '.join(names)}" for cat, names in sorted(by_category.items()))
        yield Finding(
            "GR-GPU-CATEGORY-MIX",
            Severity.ERROR,
            key(FAMILIES_KEY),
            f"the GPU pool mixes instance categories ({listed}): Karpenter launches the cheaper G types first, "
            "hits the separate (often zero) G quota, and replicas land on GPUs of different sizes.",
            "list families of one category only (P: p4d, p5, ...; G: g5, g6, g6e).",
        )


@rule("GR-GPU-QUOTA", scope=Scope.GPU_CAPACITY)
def quota_reminder(settings: Settings) -> Iterator[Finding]:
    place = placement(settings, settings.model.tensor_parallelism)
    if place is None:
        return
    node = place.instance
    family = instances.family(node.family)
    if family is None:
        return
    nodes = full_scale_nodes(settings, node)
    vcpu = nodes * node.vcpu
    default = SEED_DEFAULT_QUOTA_VCPU[family.quota_class]
    if vcpu <= default:
        return
    # Reserved capacity counts against the on-demand quota.
    kinds = dict.fromkeys("spot" if t == "spot" else "on-demand" for t in settings.gpu.capacity_types)
    quotas = [instances.QUOTA_CODES[family.quota_class][kind] for kind in kinds]
    yield Finding(
        "GR-GPU-QUOTA",
        Severity.WARNING,
        key("gpu.maxGpus"),
        f"at full scale the GPU pool runs {vcpu} vCPU of {family.quota_class.value} instances "
        f"({nodes} x {node.name}), above the default quota of {default} vCPU for "
        f"{' and '.join(f'{name} ({code})' for code, name in quotas)}: nodes past the quota fail to launch.",
        f"check it (aws service-quotas get-service-quota --service-code ec2 --quota-code {quotas[0][0]}) and "
        "request an increase before pulumi up (1-3 business days), or lower gpu.maxGpus.",
    )


@rule("GR-GPU-SPOT-CONSTRAINED", scope=Scope.GPU_CAPACITY)
def spot_on_scarce_families(settings: Settings) -> Iterator[Finding]:
    if "spot" not in settings.gpu.capacity_types or not is_node_pool(settings):
        return
    scarce = [
        name
        for name in settings.gpu.instance_families
        if (family := instances.family(name)) is not None and family.capacity_constrained
    ]
    if scarce:
        yield Finding(
            "GR-GPU-SPOT-CONSTRAINED",
            Severity.WARNING,
            key("gpu.capacityTypes"),
            f"spot capacity for {', '.join(scarce)} is among the scarcest on EC2: requests often fail with "
            "InsufficientInstanceCapacity and granted nodes are reclaimed with two minutes' notice, each "
            "costing a model reload.",
            "keep on-demand in gpu.capacityTypes as a fallback.",
        )


@rule("GR-CAPACITY-RESERVED", scope=Scope.GPU_CAPACITY)
def reserved_capacity_is_not_selected(settings: Settings) -> Iterator[Finding]:
    """``reserved`` means capacity reservations (ODCRs, Capacity Blocks) the NodeClass selects
    with capacityReservationSelectorTerms; neither NodeClass this program writes selects any.
    (A managed node group's capacity type is GR-DRA-CAPACITY-TYPE.)"""
    types = settings.gpu.capacity_types
    if "reserved" not in types or not is_node_pool(settings):
        return
    others = [t for t in types if t != "reserved"]
    outcome = (
        f"'reserved' has no effect, the pool launches {' and '.join(others)} only"
        if others
        else "the pool can never launch a GPU node"
    )
    yield Finding(
        "GR-CAPACITY-RESERVED",
        Severity.ERROR,
        key("gpu.capacityTypes"),
        f"{types}: 'reserved' launches only into capacity reservations the NodeClass selects "
        f"(capacityReservationSelectorTerms), and this program selects none: {outcome}.",
        "remove 'reserved' from gpu.capacityTypes (use on-demand, spot or both); reserved capacity "
        "is not supported yet.",
    )
