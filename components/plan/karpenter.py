"""Self-managed Karpenter beside Auto Mode: names, IAM, interruption events, Helm values, EC2NodeClass, NodePool.

Auto Mode's managed Karpenter only acts on NodePools whose ``nodeClassRef.group``
is ``eks.amazonaws.com``; this one acts on ``karpenter.k8s.aws`` (EC2NodeClass),
so the two run side by side without fighting over nodes.
"""

from __future__ import annotations

from typing import Any

from .. import versions
from ..config import Settings
from .names import KARPENTER_GPU_NODEPOOL
from .network import KARPENTER_DISCOVERY_TAG
from .nodepool import gpu_node_pool_spec

NAMESPACE = "kube-system"  # Karpenter's documented home; its PriorityClass is allowed there
RELEASE = "karpenter"
SERVICE_ACCOUNT = "karpenter"

# Managed policies of a self-managed node (EKS user guide, "Amazon EKS node IAM role"):
# kubelet, the VPC CNI (aws-node runs on these nodes, not on Auto Mode ones), image pulls, SSM.
NODE_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)
NODE_ACCESS_ENTRY_TYPE = "EC2_LINUX"  # self-managed Linux nodes join through this entry type

# EC2 and AWS Health events Karpenter drains nodes for (Karpenter docs, "Interruption").
INTERRUPTION_EVENTS: dict[str, dict[str, list[str]]] = {
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "instance-state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "capacity-reservation-interruption": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
    },
}
QUEUE_RETENTION_S = 300  # an interruption notice is useless after the two-minute warning

# The GPU node's root volume holds images, the model download and vLLM's caches: gp3 at
# its maximum throughput, so a 65 GB model is not throttled to the 125 MB/s baseline.
ROOT_DEVICE = "/dev/xvda"  # AL2023
ROOT_VOLUME_IOPS = 16000
ROOT_VOLUME_THROUGHPUT = 1000  # MiB/s; needs >= 4000 IOPS
# At most one GPU node is disrupted voluntarily at a time (drift, emptiness).
DISRUPTION_BUDGETS = [{"nodes": "1"}]
# GPU nodes never expire. Karpenter's default (720h) expires the nodes launched together all
# at once, and expiry is forceful — it ignores the budgets above: every model server would go
# down together and download the model again. Nodes are still replaced when the EC2NodeClass
# changes (a new pinned AMI release, versions.KARPENTER_AMI): that is drift, which respects
# the budgets, one node at a time. Changing this value drifts (replaces) existing nodes once.
EXPIRE_AFTER = "Never"


def queue_name(settings: Settings) -> str:
    """SQS names are at most 80 characters."""
    return f"{settings.cluster_name[:70]}-karpenter"


def controller_policy(
    settings: Settings, *, partition: str, account_id: str, node_role_arn: str, queue_arn: str
) -> dict[str, Any]:
    """The controller's permissions: upstream's "Getting started" CloudFormation policies for
    v1.14.1, statement for statement (tests/reference_extra/karpenter-1.14.1), in one document.

    Everything Karpenter creates is tagged ``kubernetes.io/cluster/<cluster>: owned``,
    ``eks:eks-cluster-name: <cluster>`` and ``karpenter.sh/nodepool`` (instance profiles:
    ``karpenter.k8s.aws/ec2nodeclass`` and ``topology.kubernetes.io/region``); the
    conditions let it act only on what carries them.
    """
    cluster, region = settings.cluster_name, settings.region
    owned = f"kubernetes.io/cluster/{cluster}"
    cluster_arn = f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster}"
    instance_profiles = f"arn:{partition}:iam::{account_id}:instance-profile/*"

    def ec2(resource: str, account: str = "*") -> str:
        return f"arn:{partition}:ec2:{region}:{account}:{resource}"

    created = [
        ec2(r)
        for r in (
            "fleet/*",
            "instance/*",
            "volume/*",
            "network-interface/*",
            "launch-template/*",
            "spot-instances-request/*",
        )
    ]
    launch = ["ec2:RunInstances", "ec2:CreateFleet"]
    request_tags = {f"aws:RequestTag/{owned}": "owned", "aws:RequestTag/eks:eks-cluster-name": cluster}
    resource_owned = {f"aws:ResourceTag/{owned}": "owned"}
    in_nodepool = {"StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}
    profile_resource_tags = {**resource_owned, "aws:ResourceTag/topology.kubernetes.io/region": region}
    profile_request_tags = {**request_tags, "aws:RequestTag/topology.kubernetes.io/region": region}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowScopedEC2InstanceAccessActions",
                "Effect": "Allow",
                "Action": launch,
                "Resource": [
                    ec2("image/*", ""),
                    ec2("snapshot/*", ""),
                    ec2("security-group/*"),
                    ec2("subnet/*"),
                    ec2("capacity-reservation/*"),
                    ec2("placement-group/*"),
                ],
            },
            {
                "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
                "Effect": "Allow",
                "Action": launch,
                "Resource": ec2("launch-template/*"),
                "Condition": {"StringEquals": resource_owned, **in_nodepool},
            },
            {
                "Sid": "AllowScopedEC2InstanceActionsWithTags",
                "Effect": "Allow",
                "Action": [*launch, "ec2:CreateLaunchTemplate"],
                "Resource": created,
                "Condition": {
                    "StringEquals": request_tags,
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceCreationTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": created,
                "Condition": {
                    # ec2:CreateAction takes the bare API name of the call that creates
                    # the resource: "ec2:RunInstances" would refuse tag-on-create.
                    "StringEquals": {
                        **request_tags,
                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": ec2("instance/*"),
                "Condition": {
                    "StringEquals": resource_owned,
                    **in_nodepool,
                    "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                    },
                },
            },
            {
                "Sid": "AllowScopedDeletion",
                "Effect": "Allow",
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Resource": [ec2("instance/*"), ec2("launch-template/*")],
                "Condition": {"StringEquals": resource_owned, **in_nodepool},
            },
            {
                "Sid": "AllowPassingInstanceRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": node_role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}},
            },
            {
                "Sid": "AllowScopedInstanceProfileCreationActions",
                "Effect": "Allow",
                "Action": "iam:CreateInstanceProfile",
                "Resource": instance_profiles,
                "Condition": {
                    "StringEquals": profile_request_tags,
                    "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileTagActions",
                "Effect": "Allow",
                "Action": "iam:TagInstanceProfile",
                "Resource": instance_profiles,
                "Condition": {
                    "StringEquals": {**profile_resource_tags, **profile_request_tags},
                    "StringLike": {
                        "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                        "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    },
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileActions",
                "Effect": "Allow",
                "Action": [
                    "iam:AddRoleToInstanceProfile",
                    "iam:RemoveRoleFromInstanceProfile",
                    "iam:DeleteInstanceProfile",
                ],
                "Resource": instance_profiles,
                "Condition": {
                    "StringEquals": profile_resource_tags,
                    "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Action": "eks:DescribeCluster",
                "Resource": cluster_arn,
            },
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                "Resource": queue_arn,
            },
            {
                "Sid": "AllowZonalShiftStatusReadOnly",
                "Effect": "Allow",
                "Action": "arc-zonal-shift:GetManagedResource",
                "Resource": "*",
                "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}},
            },
            {
                "Sid": "AllowRegionalReadActions",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeCapacityReservations",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceStatus",  # instance status health checks
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribePlacementGroups",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            },
            {
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
            },
            {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Action": "pricing:GetProducts", "Resource": "*"},
            {
                "Sid": "AllowUnscopedInstanceProfileListAction",
                "Effect": "Allow",
                "Action": "iam:ListInstanceProfiles",
                "Resource": "*",
            },
            {
                "Sid": "AllowInstanceProfileReadActions",
                "Effect": "Allow",
                "Action": "iam:GetInstanceProfile",
                "Resource": instance_profiles,
            },
        ],
    }


def queue_policy(queue_arn: str) -> dict[str, Any]:
    """EventBridge (and SQS itself) may deliver to the queue; nothing reads it without TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowEventDelivery",
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            {
                "Sid": "DenyHTTP",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def helm_values(settings: Settings) -> dict[str, Any]:
    return {
        "serviceAccount": {"name": SERVICE_ACCOUNT},
        "settings": {
            "clusterName": settings.cluster_name,
            # Endpoint and CA come from DescribeCluster (eks:DescribeCluster is granted).
            "eksControlPlane": True,
            "interruptionQueue": queue_name(settings),
        },
        "controller": {
            # IMDS is one hop away on Auto Mode nodes: pods cannot discover the region there.
            "env": [{"name": "AWS_REGION", "value": settings.region}],
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
        },
        # The chart keeps Karpenter off nodes carrying karpenter.sh/nodepool, which every
        # Auto Mode node does: run it on Auto Mode nodes instead, never on the nodes it manages.
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "eks.amazonaws.com/compute-type", "operator": "In", "values": ["auto"]}
                            ]
                        }
                    ]
                }
            },
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname"}]
            },
        },
    }


def node_class_spec(settings: Settings, role_name: Any) -> dict[str, Any]:
    """``karpenter.k8s.aws/v1`` EC2NodeClass: AL2023 (its NVIDIA variant on GPU types), pinned."""
    # Private subnets (tagged by Network, or by KarpenterGpu in an existing VPC) and the cluster security group.
    selector = [{"tags": {KARPENTER_DISCOVERY_TAG: settings.cluster_name}}]
    return {
        "role": role_name,
        "amiSelectorTerms": [{"alias": versions.KARPENTER_AMI.alias}],
        "subnetSelectorTerms": selector,
        "securityGroupSelectorTerms": selector,
        "blockDeviceMappings": [
            {
                "deviceName": ROOT_DEVICE,
                "rootVolume": True,
                "ebs": {
                    "volumeSize": f"{settings.gpu.ephemeral_storage_gib}Gi",
                    "volumeType": "gp3",
                    "iops": ROOT_VOLUME_IOPS,
                    "throughput": ROOT_VOLUME_THROUGHPUT,
                    "encrypted": True,
                    "deleteOnTermination": True,
                },
            }
        ],
        "tags": {"llmd-eks/stack": settings.stack, "llmd-eks/cluster": settings.cluster_name},
    }


def node_pool_spec(settings: Settings, node_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The self-managed Karpenter GPU NodePool (``karpenter.k8s.aws/`` labels, the EC2NodeClass)."""
    spec = gpu_node_pool_spec(
        settings,
        node_class_ref={"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": KARPENTER_GPU_NODEPOOL},
        # EC2 names families literally; never a category (ARCHITECTURE §6).
        family_label="karpenter.k8s.aws/instance-family",
        node_labels=node_labels,
        extra_requirements=[{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}],
        extra_disruption={"budgets": [dict(b) for b in DISRUPTION_BUDGETS]},
    )
    spec["template"]["spec"]["expireAfter"] = EXPIRE_AFTER
    return spec
