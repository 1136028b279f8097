"""SelfManagedNodeAddons: the EKS add-ons that nodes outside Auto Mode need to run pods.

Auto Mode nodes bring pod networking, service routing, DNS and the EKS Pod
Identity agent with them, so an Auto Mode cluster has no VPC CNI, no kube-proxy,
no CoreDNS Deployment (``AutoModeCluster`` turns pulumi-eks's own coredns add-on
off) and no Pod Identity agent DaemonSet. Nodes launched by self-managed
Karpenter (phases 2a, 3) or a managed node group (2b, ``DraNodeGroup``) do not:
without the two network DaemonSets they never become Ready, without ``coredns``
their pods resolve no name (model downloads fail), and without the agent pods
that read S3 through Pod Identity (model cache, ``s3://`` LoRA adapters) get no
credentials. The DaemonSets' own node affinity keeps them off Auto Mode nodes
and their default tolerations put them on the tainted GPU nodes
(``plan.pod_identity``); coredns runs on Auto Mode nodes (``plan.cluster_dns``)
and serves the GPU nodes' pods through the ``kube-dns`` Service.

EKS allows one add-on of a name per cluster, so a switch between 2a and 2b must
move the add-ons from one component to the other rather than create the second
before deleting the first: each owner aliases the others' (``other_owners``),
and every owner registers an add-on with the same inputs (``node_addon``).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from .cluster import AutoModeCluster
from .config import Settings
from .plan import cluster_dns, pod_identity

TYPE = "llmd:cluster:SelfManagedNodeAddons"
NETWORK_ADDONS = ("vpc-cni", "kube-proxy")  # DaemonSets on the non-Auto Mode nodes
NODE_ADDONS = (*NETWORK_ADDONS, cluster_dns.ADDON, pod_identity.AGENT_ADDON)


def _owners(addon: str) -> dict[str, pulumi.Output[str]]:
    """Resource-name prefix of each owner of ``addon`` -> that owner's URN (names as in __main__.py)."""
    karpenter = pulumi.create_urn("karpenter", "llmd:gpu:KarpenterGpu")
    owners = {
        "karpenter-node-addons": pulumi.create_urn("karpenter-node-addons", TYPE, parent=karpenter),
        "gpu-dra": pulumi.create_urn("gpu-dra", "llmd:gpu:DraNodeGroup"),
    }
    if addon == cluster_dns.ADDON:
        # pulumi-eks creates "<cluster resource>-coredns" under its Cluster unless told not to;
        # a stack where it did hands that add-on over instead of failing on a second one.
        auto_mode = pulumi.create_urn("llmd", "llmd:cluster:AutoModeCluster")
        owners["llmd-eks"] = pulumi.create_urn("llmd-eks", "eks:index:Cluster", parent=auto_mode)
    return owners


def other_owners(addon: str, owner: str) -> list[pulumi.Alias]:
    """Aliases naming ``addon`` as every other owner registers it."""
    return [pulumi.Alias(name=f"{name}-{addon}", parent=urn) for name, urn in _owners(addon).items() if name != owner]


def node_addon(
    owner: str, addon: str, settings: Settings, parent: pulumi.Resource, depends_on: list[pulumi.Resource]
) -> aws.eks.Addon:
    """``addon`` as ``owner`` registers it; the inputs are the same for every owner, so a move is no change."""
    return aws.eks.Addon(
        f"{owner}-{addon}",
        cluster_name=settings.cluster_name,
        addon_name=addon,
        # Without a version EKS installs the default one for the cluster's Kubernetes version.
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        configuration_values=(
            json.dumps(cluster_dns.addon_configuration(), sort_keys=True) if addon == cluster_dns.ADDON else None
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on, aliases=other_owners(addon, owner)),
    )


class SelfManagedNodeAddons(pulumi.ComponentResource):
    """vpc-cni, kube-proxy, coredns and the Pod Identity agent for self-managed Karpenter's nodes."""

    addons: list[aws.eks.Addon]

    def __init__(
        self, name: str, settings: Settings, cluster: AutoModeCluster, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        # cluster_name is plain config, so the edge to the cluster is explicit.
        self.addons = [node_addon(name, addon, settings, self, [cluster.cluster]) for addon in NODE_ADDONS]
        self.register_outputs({"addons": list(NODE_ADDONS)})
