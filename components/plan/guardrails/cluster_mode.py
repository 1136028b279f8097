"""``cluster.mode``: what an existing cluster means for the rest of the configuration."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic.alias_generators import to_camel

from ...config import NAMESPACE, Settings
from .. import modes
from . import Finding, Severity, rule

# cluster.* keys that describe the EKS cluster and VPC this program would create.
_EKS_ONLY_CLUSTER_KEYS = (
    "name",
    "kubernetes_version",
    "vpc_cidr",
    "existing_vpc",
    "endpoint_public_access",
    "public_access_cidrs",
    "protect",
)


@rule("GR-EXISTING-GPU-CAPACITY")
def existing_cluster_brings_its_own_gpus(settings: Settings) -> Iterator[Finding]:
    if modes.existing_cluster(settings) and modes.uses_gpus(settings):
        model = settings.model
        yield Finding(
            "GR-EXISTING-GPU-CAPACITY",
            Severity.WARNING,
            f"{NAMESPACE}:cluster.mode",
            f"on an existing cluster GPU capacity is the cluster's business: this program creates no GPU nodes, "
            f"NodePool or drivers and ignores llmd-eks:gpu. The {model.replicas} model servers request "
            f"{model.tensor_parallelism} nvidia.com/gpu each and stay Pending until the cluster has them. "
            "Set model.simulate: true to run without GPUs.",
        )


@rule("GR-EXISTING-IGNORED-KEYS")
def existing_cluster_ignores_eks_keys(settings: Settings) -> Iterator[Finding]:
    if not modes.existing_cluster(settings):
        return
    ignored = [to_camel(key) for key in _EKS_ONLY_CLUSTER_KEYS if key in settings.cluster.model_fields_set]
    if ignored:
        yield Finding(
            "GR-EXISTING-IGNORED-KEYS",
            Severity.WARNING,
            f"{NAMESPACE}:cluster.mode",
            f"cluster.{', cluster.'.join(ignored)} describe the EKS cluster this program creates in eks-auto mode "
            "and are ignored on an existing cluster; remove them or set cluster.mode: eks-auto.",
        )


@rule("GR-EXISTING-NLB")
def nlb_needs_auto_mode(settings: Settings) -> Iterator[Finding]:
    exposure = settings.serving.exposure
    if modes.existing_cluster(settings) and exposure != "cluster-ip":
        yield Finding(
            "GR-EXISTING-NLB",
            Severity.WARNING,
            f"{NAMESPACE}:serving.exposure",
            f"{exposure} gives the gateway Service loadBalancerClass eks.amazonaws.com/nlb, which only EKS Auto Mode "
            "serves: on other clusters (kind, minikube, EKS without Auto Mode) it stays pending. Use cluster-ip and "
            "the portForwardCommand output unless the existing cluster runs EKS Auto Mode.",
        )


@rule("GR-CONTEXT-UNUSED")
def context_needs_existing_mode(settings: Settings) -> Iterator[Finding]:
    context = settings.cluster.kubeconfig_context
    if context and not modes.existing_cluster(settings):
        yield Finding(
            "GR-CONTEXT-UNUSED",
            Severity.WARNING,
            f"{NAMESPACE}:cluster.kubeconfigContext",
            f"{context!r} is ignored in eks-auto mode, where the program deploys onto the cluster it creates; "
            "set cluster.mode: existing to deploy onto that context, or remove the key.",
        )
