"""DraNodeGroup: a GPU managed node group, the NVIDIA DRA driver and Cluster Autoscaler (phase 2b)."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import versions
from .cluster import AutoModeCluster
from .config import Settings
from .helm import release
from .node_addons import NODE_ADDONS, node_addon
from .plan import cluster_dns, pod_identity
from .plan import dra as plan
from .plan.iam import EC2_TRUST, POD_IDENTITY_TRUST


class DraNodeGroup(pulumi.ComponentResource):
    """``capacity``: what model servers wait for (GPU nodes up, DNS and the Pod Identity agent for them,
    DRA driver installed)."""

    node_group: aws.eks.NodeGroup
    dra_driver: k8s.helm.v3.Release
    autoscaler: k8s.helm.v3.Release
    capacity: list[pulumi.Resource]

    def __init__(
        self, name: str, settings: Settings, cluster: AutoModeCluster, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("llmd:gpu:DraNodeGroup", name, None, opts)
        cluster_name = settings.cluster_name
        # cluster_name is plain config, so the edge to the cluster is explicit.
        child = pulumi.ResourceOptions(parent=self)
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=[cluster.cluster])
        on_k8s = pulumi.ResourceOptions(parent=self, provider=cluster.provider)

        role = aws.iam.Role(f"{name}-node-role", assume_role_policy=EC2_TRUST, opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{arn.rsplit('/', 1)[1]}", role=role.name, policy_arn=arn, opts=child
            )
            for arn in plan.NODE_ROLE_POLICIES
        ]
        # Nodes join only with a CNI, their pods resolve names only through coredns and get Pod
        # Identity credentials only from the agent. Phase 2a's Karpenter installs the same add-ons:
        # a 2a <-> 2b switch moves them (node_addons). coredns runs on Auto Mode nodes, so it needs
        # no GPU node to turn ACTIVE: the node group (GPU spend) starts only once DNS works.
        addons = {addon: node_addon(name, addon, settings, self, [cluster.cluster]) for addon in NODE_ADDONS}
        self.node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=cluster_name,
            node_role_arn=role.arn,
            subnet_ids=list(cluster.private_subnet_ids),
            ami_type=plan.AMI_TYPE,
            instance_types=list(settings.gpu.instance_types),
            capacity_type=plan.capacity_type(settings),
            disk_size=settings.gpu.ephemeral_storage_gib,  # images and the model download
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(**plan.scaling(settings)),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels=plan.node_labels(),
            taints=[aws.eks.NodeGroupTaintArgs(**taint) for taint in plan.node_taints()],
            tags=plan.node_group_tags(settings),
            # Cluster Autoscaler owns the desired size.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[cluster.cluster, *attachments, *addons.values()],
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )
        self.dra_driver = release(
            f"{name}-dra-driver",
            versions.DRA_DRIVER,
            release_name=plan.DRA_RELEASE,
            namespace=plan.DRA_NAMESPACE,
            create_namespace=True,
            values=plan.dra_driver_values(),
            opts=on_k8s,
        )

        autoscaler_role = aws.iam.Role(f"{name}-autoscaler-role", assume_role_policy=POD_IDENTITY_TRUST, opts=child)
        autoscaler_policy = aws.iam.RolePolicy(
            f"{name}-autoscaler-policy",
            role=autoscaler_role.name,
            policy=json.dumps(plan.autoscaler_policy(settings)),
            opts=child,
        )
        identity = aws.eks.PodIdentityAssociation(
            f"{name}-autoscaler-identity",
            cluster_name=cluster_name,
            namespace=plan.AUTOSCALER_NAMESPACE,
            service_account=plan.AUTOSCALER_SERVICE_ACCOUNT,
            role_arn=autoscaler_role.arn,
            opts=after_cluster,
        )
        # Pod Identity injects credentials when the pod is created: the association first.
        self.autoscaler = release(
            f"{name}-autoscaler",
            versions.CLUSTER_AUTOSCALER,
            release_name=plan.AUTOSCALER_RELEASE,
            namespace=plan.AUTOSCALER_NAMESPACE,
            values=plan.cluster_autoscaler_values(settings),
            opts=pulumi.ResourceOptions.merge(on_k8s, pulumi.ResourceOptions(depends_on=[identity, autoscaler_policy])),
        )
        # Model servers reading S3 (model cache, s3:// adapters) need the agent's DaemonSet on their node.
        self.capacity = [
            self.node_group,
            addons[cluster_dns.ADDON],
            addons[pod_identity.AGENT_ADDON],
            self.dra_driver,
        ]
        self.register_outputs({"nodeGroup": self.node_group.node_group_name})
