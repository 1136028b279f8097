"""GpuNodePool: an Auto Mode NodeClass with a larger disk and a GPU NodePool."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from .cluster import AutoModeCluster
from .config import Settings
from .node_role import node_role
from .plan import nodepool
from .plan.names import GPU_NODEPOOL


class GpuNodePool(pulumi.ComponentResource):
    node_pool: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        settings: Settings,
        cluster: AutoModeCluster,
        node_labels: dict[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("llmd:gpu:GpuNodePool", name, None, opts)
        # A custom NodeClass's role needs an EC2 access entry with the Auto node policy.
        nodes = node_role(
            name,
            settings,
            cluster,
            policies=nodepool.AUTO_NODE_ROLE_POLICIES,
            access_entry_type="EC2",
            access_entry_name=f"{name}-access-entry",
            parent=self,
        )
        role, attachments, entry = nodes.role, nodes.attachments, nodes.access_entry
        association = aws.eks.AccessPolicyAssociation(
            f"{name}-auto-node-policy",
            cluster_name=settings.cluster_name,
            principal_arn=role.arn,
            policy_arn=nodepool.AUTO_NODE_POLICY,
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
        )
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-nodeclass",
            api_version="eks.amazonaws.com/v1",
            kind="NodeClass",
            metadata={"name": GPU_NODEPOOL},
            spec=nodepool.node_class_spec(settings, role.name, cluster.private_subnet_ids, cluster.security_group_id),
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=[association, *attachments]),
        )
        self.node_pool = k8s.apiextensions.CustomResource(
            f"{name}-nodepool",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata={"name": GPU_NODEPOOL},
            spec=nodepool.node_pool_spec(settings, node_labels),
            opts=pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=[node_class]),
        )
        self.register_outputs({"nodePool": GPU_NODEPOOL})
