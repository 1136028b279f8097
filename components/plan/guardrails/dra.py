"""GPUs as DRA ResourceClaims on a managed node group (phase 2b).

DRA on Auto Mode or Karpenter capacity is GR-PHASE-DRA-PROVISIONER (phases.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ... import versions
from ...catalog import instances
from ...config import NAMESPACE, Settings
from ..dra import CAPACITY_TYPES
from . import Finding, Scope, Severity, rule

DRA_GA_MINOR = 34


def _uses_node_group(settings: Settings) -> bool:
    return settings.gpu.provisioner == "managed-node-group"


@rule("GR-DRA-KUBERNETES-VERSION", scope=Scope.GPU_CAPACITY)
def dra_needs_kubernetes_1_34(settings: Settings) -> Iterator[Finding]:
    cluster = settings.cluster
    if settings.gpu.dra and cluster.minor_version < DRA_GA_MINOR:
        yield Finding(
            "GR-DRA-KUBERNETES-VERSION",
            Severity.ERROR,
            f"{NAMESPACE}:cluster.kubernetesVersion",
            f"{cluster.kubernetes_version} has no GA Dynamic Resource Allocation (resource.k8s.io/v1, "
            f'Kubernetes 1.{DRA_GA_MINOR}); set cluster.kubernetesVersion: "1.{DRA_GA_MINOR}" or later, '
            "or gpu.dra: false.",
        )


@rule("GR-DRA-MIN-NODES", scope=Scope.GPU_CAPACITY)
def dra_cannot_scale_from_zero(settings: Settings) -> Iterator[Finding]:
    gpu = settings.gpu
    if gpu.dra and gpu.min_nodes < 1:
        yield Finding(
            "GR-DRA-MIN-NODES",
            Severity.ERROR,
            f"{NAMESPACE}:gpu.minNodes",
            f"{gpu.min_nodes} GPU nodes: Cluster Autoscaler on AWS cannot scale a DRA node group up from "
            "zero (it cannot see the GPUs of a node that does not exist yet), so pods would stay Pending. "
            "Set gpu.minNodes: 1 or more.",
        )


@rule("GR-DRA-NODE-GROUP-WITHOUT-DRA", scope=Scope.GPU_CAPACITY)
def node_group_allocates_through_dra(settings: Settings) -> Iterator[Finding]:
    if _uses_node_group(settings) and not settings.gpu.dra:
        yield Finding(
            "GR-DRA-NODE-GROUP-WITHOUT-DRA",
            Severity.ERROR,
            f"{NAMESPACE}:gpu.dra",
            "the managed node group runs no device plugin, so without DRA nothing would advertise its GPUs "
            "and model servers would never schedule. Set gpu.dra: true (phase 2b), or use "
            "gpu.provisioner: auto-mode.",
        )


@rule("GR-DRA-OPERATOR", scope=Scope.GPU_CAPACITY)
def dra_excludes_the_operator_device_plugin(settings: Settings) -> Iterator[Finding]:
    gpu = settings.gpu
    if gpu.dra and gpu.operator:
        yield Finding(
            "GR-DRA-OPERATOR",
            Severity.ERROR,
            f"{NAMESPACE}:gpu.operator",
            "the GPU Operator's device plugin would advertise the same GPUs the DRA driver allocates "
            "(the driver refuses to share a node with it). Set gpu.operator: false with gpu.dra: true.",
        )


@rule("GR-DRA-AUTOSCALER-VERSION", scope=Scope.GPU_CAPACITY)
def autoscaler_matches_kubernetes(settings: Settings) -> Iterator[Finding]:
    version = settings.cluster.kubernetes_version
    builds = versions.CLUSTER_AUTOSCALER_BUILDS
    if _uses_node_group(settings) and settings.cluster.minor_version >= DRA_GA_MINOR and version not in builds:
        yield Finding(
            "GR-DRA-AUTOSCALER-VERSION",
            Severity.ERROR,
            f"{NAMESPACE}:cluster.kubernetesVersion",
            f"no Cluster Autoscaler is pinned for Kubernetes {version} (its minor must match the cluster's); "
            f"pinned: {', '.join(sorted(builds))}. Use one of those versions.",
        )


@rule("GR-DRA-CAPACITY-TYPE", scope=Scope.GPU_CAPACITY)
def node_group_has_one_capacity_type(settings: Settings) -> Iterator[Finding]:
    types = settings.gpu.capacity_types
    if _uses_node_group(settings) and (len(types) != 1 or types[0] not in CAPACITY_TYPES):
        yield Finding(
            "GR-DRA-CAPACITY-TYPE",
            Severity.ERROR,
            f"{NAMESPACE}:gpu.capacityTypes",
            f"{types}: a managed node group buys one capacity type, {' or '.join(sorted(CAPACITY_TYPES))}. "
            "Set gpu.capacityTypes: [on-demand] (or [spot]).",
        )


@rule("GR-DRA-INSTANCE-TYPES", scope=Scope.GPU_CAPACITY)
def model_fits_the_node_group(settings: Settings) -> Iterator[Finding]:
    if not _uses_node_group(settings):
        return
    gpu, model = settings.gpu, settings.model
    key = f"{NAMESPACE}:gpu.instanceTypes"
    known = [t for name in gpu.instance_types if (t := instances.instance_type(name)) is not None]
    unknown = [name for name in gpu.instance_types if instances.instance_type(name) is None]
    if unknown:
        yield Finding(
            "GR-DRA-INSTANCE-TYPES",
            Severity.WARNING,
            key,
            f"{unknown} not in the GPU catalogue; GPUs per node and the fit of the model are not checked.",
        )
    if not known:
        return
    smallest = min(known, key=lambda t: t.gpus)
    if model.tensor_parallelism > smallest.gpus:
        yield Finding(
            "GR-DRA-INSTANCE-TYPES",
            Severity.ERROR,
            key,
            f"{smallest.name} has {smallest.gpus} GPUs, fewer than model.tensorParallelism "
            f"({model.tensor_parallelism}); a replica's GPUs must share a node. Use larger instance types "
            "or a lower tensorParallelism.",
        )
        return
    per_node = smallest.gpus // model.tensor_parallelism
    if model.replicas > per_node * gpu.max_nodes:
        yield Finding(
            "GR-DRA-INSTANCE-TYPES",
            Severity.WARNING,
            f"{NAMESPACE}:gpu.maxNodes",
            f"{model.replicas} replicas of {model.tensor_parallelism} GPUs need "
            f"{math.ceil(model.replicas / per_node)} {smallest.name} nodes; gpu.maxNodes is {gpu.max_nodes}, "
            "so some replicas stay Pending.",
        )
