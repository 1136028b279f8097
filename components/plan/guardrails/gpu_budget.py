"""Tensor parallelism against the instance's GPUs, and replicas against the GPU budget."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...config import Settings
from ..capacity import Role, full_scale_nodes, is_node_pool, placement, pool_sizes, roles
from . import Finding, Scope, Severity, key, rule


@rule("GR-TP-EXCEEDS-NODE", scope=Scope.GPU_CAPACITY)
def tp_fits_a_node(settings: Settings) -> Iterator[Finding]:
    """NodePools; a managed node group's instance types are GR-DRA-INSTANCE-TYPES."""
    sizes = pool_sizes(settings)
    if not sizes or not is_node_pool(settings):
        return  # unknown families are reported by GR-GPU-UNKNOWN
    largest = max(sizes, key=lambda size: size.gpus)
    for role in roles(settings):
        if role.tensor_parallelism > largest.gpus:
            yield Finding(
                "GR-TP-EXCEEDS-NODE",
                Severity.ERROR,
                key(role.tp_key),
                f"{role.name} tensor parallelism {role.tensor_parallelism} exceeds the {largest.gpus} GPUs of the "
                f"largest instance in the pool ({largest.name}): a replica must fit one node, so its pods "
                "would stay Pending.",
                f"use tensor parallelism <= {largest.gpus} (a larger GPU or a quantised model if it does not fit).",
            )


@rule("GR-TP-NODE-DIVISOR", scope=Scope.GPU_CAPACITY)
def tp_divides_the_node(settings: Settings) -> Iterator[Finding]:
    for role in roles(settings):
        place = placement(settings, role.tensor_parallelism)
        if place is None or place.instance.gpus % role.tensor_parallelism == 0:
            continue
        idle = place.instance.gpus - place.replicas_per_node * role.tensor_parallelism
        divisors = [tp for tp in range(1, place.instance.gpus + 1) if place.instance.gpus % tp == 0]
        yield Finding(
            "GR-TP-NODE-DIVISOR",
            Severity.ERROR,
            key(role.tp_key),
            f"{role.name} tensor parallelism {role.tensor_parallelism} does not divide the {place.instance.gpus} "
            f"GPUs of {place.instance.name}: {idle} GPU(s) per node would be paid for and never used (and "
            "vLLM needs the attention heads to divide by it).",
            f"use one of {', '.join(map(str, divisors))}.",
        )


@dataclass(frozen=True)
class RoleGpus:
    role: Role
    requested: int  # replicas x tensor parallelism
    occupied: int  # the same counted in the whole nodes the replicas occupy
    node: str | None  # the instance type they land on, when catalogued

    def describe(self, settings: Settings) -> str:
        """``prefill 2 replicas x 4 GPUs = 8, from the phase 2a preset's serving.prefill``."""
        role = self.role
        text = f"{role.name} {_count(role.replicas, 'replica')} x {_count(role.tensor_parallelism, 'GPU')}"
        text += f" = {self.requested}"
        if self.occupied != self.requested:
            text += f" ({self.occupied} in whole {self.node} nodes)"
        if role.name == "prefill" and "serving.prefill" in settings.preset_applied:
            text += f", from the phase {settings.phase} preset's serving.prefill"
        return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def gpus_per_role(settings: Settings) -> list[RoleGpus]:
    found = []
    for role in roles(settings):
        gpus = role.replicas * role.tensor_parallelism
        place = placement(settings, role.tensor_parallelism)
        occupied = place.nodes_for(role.replicas) * place.instance.gpus if place else gpus
        found.append(RoleGpus(role, gpus, occupied, place.instance.name if place else None))
    return found


def gpus_at_peak(settings: Settings) -> tuple[int, int]:
    """(GPUs the replicas request at peak, the same counted in the whole nodes they occupy)."""
    per_role = gpus_per_role(settings)
    return sum(r.requested for r in per_role), sum(r.occupied for r in per_role)


@rule("GR-GPU-BUDGET", scope=Scope.GPU_CAPACITY)
def replicas_fit_the_budget(settings: Settings) -> Iterator[Finding]:
    """Replicas x GPUs per replica (prefill included), counted in the whole
    nodes they occupy, against the NodePool limit (a managed node group's
    maxNodes is GR-DRA-INSTANCE-TYPES; with autoscaling, the peak is
    GR-AUTOSCALING-GPU-BUDGET's)."""
    if not is_node_pool(settings) or settings.config.autoscaling.enabled:
        return
    ceiling = settings.gpu.max_gpus
    per_role = gpus_per_role(settings)
    requested, occupied = gpus_at_peak(settings)
    if occupied <= ceiling:
        return
    whole_nodes = f" ({occupied} counted in whole nodes)" if occupied != requested else ""
    breakdown = "; ".join(r.describe(settings) for r in per_role)
    lower = " or ".join(r.role.replicas_key for r in per_role)
    preset = (
        f"; the prefill workers come from the phase {settings.phase} preset: set serving.prefill to size them"
        if "serving.prefill" in settings.preset_applied and len(per_role) > 1
        else ""
    )
    yield Finding(
        "GR-GPU-BUDGET",
        Severity.ERROR,
        key("gpu.maxGpus"),
        f"the replicas need {requested} GPUs{whole_nodes} but gpu.maxGpus allows {ceiling}: {breakdown}. The rest "
        "would stay Pending while the nodes that did launch bill by the hour.",
        f"set gpu.maxGpus: {occupied}, or lower {lower}{preset}.",
    )


@rule("GR-GPU-MAXGPUS-MULTIPLE", scope=Scope.GPU_CAPACITY)
def max_gpus_whole_nodes(settings: Settings) -> Iterator[Finding]:
    if not is_node_pool(settings):
        return
    place = placement(settings, settings.model.tensor_parallelism)
    if place is None:
        return
    node = place.instance
    max_gpus = settings.gpu.max_gpus
    if max_gpus % node.gpus == 0:
        return
    usable = full_scale_nodes(settings, node) * node.gpus
    yield Finding(
        "GR-GPU-MAXGPUS-MULTIPLE",
        Severity.WARNING,
        key("gpu.maxGpus"),
        f"maxGpus {max_gpus} is not a multiple of the {node.gpus} GPUs of {node.name}: Karpenter launches no "
        f"node that would pass the limit, so only {usable} GPUs can ever run.",
        f"set gpu.maxGpus to {' or '.join(str(n) for n in (usable, usable + node.gpus) if n > 0)}.",
    )
