"""KarpenterGpu: self-managed Karpenter beside Auto Mode, with its own GPU EC2NodeClass and NodePool.

Creates the node role (EC2_LINUX access entry), the interruption queue and its
EventBridge rules, the controller's IAM role bound through EKS Pod Identity,
the discovery tags Karpenter selects by, the add-ons self-managed nodes need
(vpc-cni, kube-proxy, coredns, the Pod Identity agent), the controller release (which installs the
Karpenter CRDs) and then the EC2NodeClass and NodePool, each waiting for the
release itself.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import versions
from .cluster import AutoModeCluster
from .config import Settings
from .helm import release
from .node_addons import SelfManagedNodeAddons
from .node_role import node_role
from .plan import karpenter as plan
from .plan.iam import POD_IDENTITY_TRUST
from .plan.names import KARPENTER_GPU_NODEPOOL
from .plan.network import KARPENTER_DISCOVERY_TAG


class KarpenterGpu(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    node_pool: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        settings: Settings,
        cluster: AutoModeCluster,
        node_labels: dict[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("llmd:gpu:KarpenterGpu", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=[cluster.cluster])
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        # Nodes: role, managed policies, and the access entry that lets them join.
        nodes = node_role(
            name,
            settings,
            cluster,
            policies=plan.NODE_ROLE_POLICIES,
            access_entry_type=plan.NODE_ACCESS_ENTRY_TYPE,
            access_entry_name=f"{name}-node-access-entry",
            parent=self,
        )
        node_iam_role, node_policies, node_entry = nodes.role, nodes.attachments, nodes.access_entry

        # Interruption handling: EC2/Health events -> SQS -> Karpenter drains the node first.
        queue = aws.sqs.Queue(
            f"{name}-interruption",
            name=plan.queue_name(settings),
            message_retention_seconds=plan.QUEUE_RETENTION_S,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-interruption",
            queue_url=queue.url,
            policy=pulumi.Output.json_dumps(plan.queue_policy(queue.arn)),
            opts=child,
        )
        event_targets = []
        for event, pattern in plan.INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(f"{name}-{event}", event_pattern=json.dumps(pattern), opts=child)
            event_targets.append(
                aws.cloudwatch.EventTarget(f"{name}-{event}", rule=rule.name, arn=queue.arn, opts=child)
            )

        # The controller's AWS identity, bound to its service account by EKS Pod Identity.
        controller_role = aws.iam.Role(f"{name}-controller", assume_role_policy=POD_IDENTITY_TRUST, opts=child)
        controller_policy = aws.iam.RolePolicy(
            f"{name}-controller",
            role=controller_role.id,
            policy=pulumi.Output.all(partition, account_id, node_iam_role.arn, queue.arn).apply(
                lambda v: json.dumps(
                    plan.controller_policy(
                        settings, partition=v[0], account_id=v[1], node_role_arn=v[2], queue_arn=v[3]
                    )
                )
            ),
            opts=child,
        )
        identity = aws.eks.PodIdentityAssociation(
            f"{name}-controller",
            cluster_name=settings.cluster_name,
            namespace=plan.NAMESPACE,
            service_account=plan.SERVICE_ACCOUNT,
            role_arn=controller_role.arn,
            opts=after_cluster,
        )

        # Discovery tags on what Pulumi does not own here: the EKS-created cluster security
        # group and, in an existing VPC, the private subnets (Network tags its own subnets).
        discovery = [
            aws.ec2.Tag(
                f"{name}-discovery-sg",
                resource_id=cluster.security_group_id,
                key=KARPENTER_DISCOVERY_TAG,
                value=settings.cluster_name,
                opts=child,
            )
        ]
        if settings.cluster.existing_vpc is not None:
            discovery += [
                aws.ec2.Tag(
                    f"{name}-discovery-subnet-{index}",
                    resource_id=subnet_id,
                    key=KARPENTER_DISCOVERY_TAG,
                    value=settings.cluster_name,
                    opts=child,
                )
                for index, subnet_id in enumerate(settings.cluster.existing_vpc.private_subnet_ids)
            ]

        addons = SelfManagedNodeAddons(f"{name}-node-addons", settings, cluster, pulumi.ResourceOptions(parent=self))

        def on_cluster(*depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=cluster.provider, depends_on=list(depends_on))

        self.release = release(
            f"{name}-controller",
            versions.KARPENTER,
            release_name=plan.RELEASE,
            namespace=plan.NAMESPACE,
            values=plan.helm_values(settings),
            opts=on_cluster(identity, controller_policy, queue_policy, *event_targets),
        )
        # The EC2NodeClass and NodePool kinds come with the release (its CRDs).
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-ec2nodeclass",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": KARPENTER_GPU_NODEPOOL},
            spec=plan.node_class_spec(settings, node_iam_role.name),
            opts=on_cluster(self.release, node_entry, *node_policies, *discovery),
        )
        self.node_pool = k8s.apiextensions.CustomResource(
            f"{name}-nodepool",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata={"name": KARPENTER_GPU_NODEPOOL},
            spec=plan.node_pool_spec(settings, node_labels),
            # No GPU node launches before its pods can have a network and DNS.
            opts=on_cluster(self.release, node_class, *addons.addons),
        )
        self.register_outputs({"nodePool": KARPENTER_GPU_NODEPOOL, "interruptionQueue": queue.name})
