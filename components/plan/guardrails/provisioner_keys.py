"""``llmd-eks:gpu`` keys the chosen GPU provisioner does not read.

A NodePool (Auto Mode or self-managed Karpenter) launches any size of
``instanceFamilies`` up to ``maxGpus``; a managed node group launches
``instanceTypes`` between ``minNodes`` and ``maxNodes``. A stack that changes
phase keeps the keys of the old provisioner, which then size nothing: only keys
the stack file sets count (the phase preset's fills never do).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...catalog import instances, prices
from ...config import GpuConfig, Settings
from ..capacity import is_node_pool, roles
from . import Finding, Scope, Severity, key, rule

NODE_POOL_KEYS = ("instanceFamilies", "maxGpus")
NODE_GROUP_KEYS = ("instanceTypes", "minNodes", "maxNodes")
DEFAULT_INSTANCE_TYPES: list[str] = GpuConfig.model_fields["instance_types"].get_default(call_default_factory=True)


def _provisioner(settings: Settings) -> str:
    return {
        "auto-mode": "the Auto Mode NodePool",
        "karpenter": "the self-managed Karpenter NodePool",
        "managed-node-group": "a managed node group",
    }[str(settings.gpu.provisioner)]


def _families_without_types(settings: Settings) -> bool:
    """A node group whose families name other instances than the default types it would launch."""
    explicit = settings.explicit("gpu")
    if is_node_pool(settings) or "instanceFamilies" not in explicit or "instanceTypes" in explicit:
        return False
    families = set(settings.gpu.instance_families)
    return any(name.split(".", 1)[0] not in families for name in DEFAULT_INSTANCE_TYPES)


_WHAT_SIZES_INSTEAD = {
    "instanceFamilies": "it launches the instance types of gpu.instanceTypes",
    "maxGpus": "its GPUs are gpu.maxNodes x the GPUs of gpu.instanceTypes",
    "instanceTypes": "it launches any size of gpu.instanceFamilies, the smallest that holds a replica",
    "minNodes": "it scales from zero, as replicas need nodes",
    "maxNodes": "its ceiling is gpu.maxGpus",
}
_FIX = {
    "instanceFamilies": "remove gpu.instanceFamilies; list the instance types in gpu.instanceTypes.",
    "maxGpus": "remove gpu.maxGpus; bound the node group with gpu.minNodes and gpu.maxNodes.",
    "instanceTypes": "remove gpu.instanceTypes (managed node group, phase 2b, only); list families in "
    "gpu.instanceFamilies.",
    "minNodes": "remove gpu.minNodes (managed node group, phase 2b, only).",
    "maxNodes": "remove gpu.maxNodes (managed node group, phase 2b, only); bound the pool with gpu.maxGpus.",
}


@rule("GR-GPU-IGNORED-KEY", scope=Scope.GPU_CAPACITY)
def keys_the_provisioner_ignores(settings: Settings) -> Iterator[Finding]:
    ignored = NODE_GROUP_KEYS if is_node_pool(settings) else NODE_POOL_KEYS
    explicit = settings.explicit("gpu")
    for name in ignored:
        if name not in explicit or (name == "instanceFamilies" and _families_without_types(settings)):
            continue  # GR-NODE-GROUP-DEFAULT-INSTANCE-TYPES says more about those families
        value = settings.gpu.model_dump(by_alias=True)[name]
        yield Finding(
            "GR-GPU-IGNORED-KEY",
            Severity.WARNING,
            key(f"gpu.{name}"),
            f"{value} is ignored: gpu.provisioner is {settings.gpu.provisioner}, and {_provisioner(settings)} "
            f"does not read gpu.{name} ({_WHAT_SIZES_INSTEAD[name]}).",
            _FIX[name],
        )


def _suggested_types(settings: Settings) -> list[str]:
    """The smallest catalogued size of each family that holds the largest replica."""
    tensor_parallelism = max(role.tensor_parallelism for role in roles(settings))
    suggested = []
    for name in settings.gpu.instance_families:
        family = instances.family(name)
        fitting = [size for size in family.sizes if size.gpus >= tensor_parallelism] if family else []
        if fitting:
            suggested.append(min(fitting, key=lambda size: size.gpus).name)
    return suggested


def _hourly(settings: Settings, instance_type: str) -> str:
    capacity = "spot" if settings.gpu.capacity_types == ["spot"] else "on-demand"
    found = prices.price(instance_type, settings.region, capacity)
    return f", about ${found.usd_per_hour:,.2f}/h each ({capacity}, {found.region})" if found else ""


@rule("GR-NODE-GROUP-DEFAULT-INSTANCE-TYPES", scope=Scope.GPU_CAPACITY)
def node_group_families_without_types(settings: Settings) -> Iterator[Finding]:
    if not _families_without_types(settings):
        return
    gpu = settings.gpu
    suggested = _suggested_types(settings)
    types = (
        f"gpu.instanceTypes: [{', '.join(suggested)}] (the smallest size of each family that holds a replica)"
        if suggested
        else "gpu.instanceTypes to instance types of those families"
    )
    yield Finding(
        "GR-NODE-GROUP-DEFAULT-INSTANCE-TYPES",
        Severity.ERROR,
        key("gpu.instanceTypes"),
        f"gpu.instanceFamilies {gpu.instance_families} is set, but a managed node group launches gpu.instanceTypes, "
        f"left at its default {gpu.instance_types}: gpu.minNodes ({gpu.min_nodes}) of those would run around the "
        f"clock{_hourly(settings, gpu.instance_types[0])}, not the families you listed.",
        f"set {types} and remove gpu.instanceFamilies.",
    )
