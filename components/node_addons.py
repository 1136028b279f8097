"""SelfManagedNodeAddons: the EKS add-ons that nodes outside Auto Mode need to run pods.

Auto Mode nodes bring pod networking and service routing with them, so an Auto
Mode cluster has no VPC CNI and no kube-proxy. Nodes launched by self-managed
Karpenter (phases 2a, 3) or a managed node group (2b, ``DraNodeGroup``) do not:
without these two DaemonSets they never become Ready. The add-ons' own node
affinity keeps them off Auto Mode nodes.

EKS allows one add-on of a name per cluster, so a switch between 2a and 2b must
move the add-ons from one component to the other rather than create the second
before deleting the first: each owner aliases the other's (``other_owners``).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .cluster import AutoModeCluster
from .config import Settings

TYPE = "llmd:cluster:SelfManagedNodeAddons"
NODE_ADDONS = ("vpc-cni", "kube-proxy")


def _owners() -> dict[str, pulumi.Output[str]]:
    """Resource-name prefix of each component's add-ons -> that component's URN (names as in __main__.py)."""
    karpenter = pulumi.create_urn("karpenter", "llmd:gpu:KarpenterGpu")
    return {
        "karpenter-node-addons": pulumi.create_urn("karpenter-node-addons", TYPE, parent=karpenter),
        "gpu-dra": pulumi.create_urn("gpu-dra", "llmd:gpu:DraNodeGroup"),
    }


def other_owners(addon: str, owner: str) -> list[pulumi.Alias]:
    """Aliases naming ``addon`` as every other owner registers it."""
    return [pulumi.Alias(name=f"{name}-{addon}", parent=urn) for name, urn in _owners().items() if name != owner]


class SelfManagedNodeAddons(pulumi.ComponentResource):
    addons: list[aws.eks.Addon]

    def __init__(
        self, name: str, settings: Settings, cluster: AutoModeCluster, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self.addons = [
            aws.eks.Addon(
                f"{name}-{addon}",
                cluster_name=settings.cluster_name,
                addon_name=addon,
                # Without a version EKS installs the default one for the cluster's Kubernetes version.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[cluster.cluster], aliases=other_owners(addon, name)
                ),
            )
            for addon in NODE_ADDONS
        ]
        self.register_outputs({"addons": list(NODE_ADDONS)})
