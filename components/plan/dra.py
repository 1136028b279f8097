"""Phase 2b: GPUs from an EKS managed node group, allocated as DRA ResourceClaims, scaled by Cluster Autoscaler.

Neither Auto Mode nor Karpenter can launch a node for a pod that waits on a
ResourceClaim (the devices appear as ResourceSlices only after the node's DRA
driver starts), so the GPU nodes come from a managed node group that Cluster
Autoscaler scales. Auto Mode keeps serving system and CPU pods.
"""

from __future__ import annotations

from typing import Any

from .. import versions
from ..config import Settings
from .nodepool import GPU_TOLERATION

AMI_TYPE = "AL2023_x86_64_NVIDIA"  # driver and container toolkit preinstalled, no device plugin
# Managed policies an EKS worker node needs (EKS user guide, "Amazon EKS node IAM role").
NODE_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)

GPU_PRESENT_LABEL = "nvidia.com/gpu.present"  # the DRA kubelet plugin's node affinity
NODE_GROUP_LABEL = "llmd-eks/node-group"
NODE_GROUP = "llmd-gpu"
GPU_DEVICE_CLASS = "gpu.nvidia.com"  # DeviceClass the DRA driver creates for whole GPUs
CAPACITY_TYPES = {"on-demand": "ON_DEMAND", "spot": "SPOT"}

DRA_RELEASE = "nvidia-dra-driver-gpu"
DRA_NAMESPACE = "nvidia-dra-driver-gpu"
RESOURCE_API_VERSION = "resource.k8s.io/v1"  # GA in 1.34; pinned, not discovered

AUTOSCALER_RELEASE = "cluster-autoscaler"
AUTOSCALER_NAMESPACE = "kube-system"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
AUTOSCALER_ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"
# Auto Mode nodes run the EKS Pod Identity agent built in; the autoscaler is
# pinned to them, so the node group needs no eks-pod-identity-agent add-on.
AUTO_MODE_NODE_SELECTOR = {"eks.amazonaws.com/compute-type": "auto"}


def autoscaler_cluster_tag(cluster_name: str) -> str:
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


def node_labels() -> dict[str, str]:
    return {GPU_PRESENT_LABEL: "true", NODE_GROUP_LABEL: NODE_GROUP}


def node_taints() -> list[dict[str, str]]:
    """The GPU taint in the EKS node group API's spelling (``NO_SCHEDULE``)."""
    return [{"key": GPU_TOLERATION["key"], "effect": "NO_SCHEDULE"}]


def node_group_tags(settings: Settings) -> dict[str, str]:
    """Cluster Autoscaler discovery tags. EKS also sets them on the node group's
    Auto Scaling group, where discovery and the IAM condition read them."""
    return {
        AUTOSCALER_ENABLED_TAG: "true",
        autoscaler_cluster_tag(settings.cluster_name): "owned",
        "llmd-eks/stack": settings.stack,
    }


def scaling(settings: Settings) -> dict[str, int]:
    gpu = settings.gpu
    return {"min_size": gpu.min_nodes, "max_size": gpu.max_nodes, "desired_size": gpu.min_nodes}


def capacity_type(settings: Settings) -> str:
    """ON_DEMAND or SPOT; guardrail GR-DRA-CAPACITY-TYPE allows exactly one of them."""
    return CAPACITY_TYPES[settings.gpu.capacity_types[0]]


def model_server_node_selector() -> dict[str, str]:
    """Model pods go to the node group only. Auto Mode's pools cannot produce this
    label, so Auto Mode never tries to launch a node for them."""
    return {NODE_GROUP_LABEL: NODE_GROUP}


def modelservice_accelerator() -> dict[str, Any]:
    """llm-d-modelservice ``accelerator``: ResourceClaimTemplates instead of ``nvidia.com/gpu``.

    Without ``count`` the chart requests tensor x data-local parallelism GPUs per pod.
    """
    return {
        "type": "nvidia",
        "dra": True,
        "resourceClaimTemplates": {
            "nvidia": {"name": "nvidia-claim-template", "class": GPU_DEVICE_CLASS, "match": "exactly"}
        },
    }


def dra_driver_values() -> dict[str, Any]:
    return {
        # The EKS AL2023 NVIDIA AMI installs the driver on the host, not in a driver container.
        "nvidiaDriverRoot": "/",
        # The chart refuses GPU allocation unless told no device plugin shares the
        # node: the AMI runs none and this program installs none in phase 2b.
        "gpuResourcesEnabledOverride": True,
        "resourceApiVersion": RESOURCE_API_VERSION,
        # ComputeDomains (IMEX, multi-node NVLink) exist only on GB200-class arm64
        # systems, which this x86_64 node group does not launch.
        "resources": {"gpus": {"enabled": True}, "computeDomains": {"enabled": False}},
        "kubeletPlugin": {
            "nodeSelector": {GPU_PRESENT_LABEL: "true"},
            "tolerations": [dict(GPU_TOLERATION)],
        },
    }


def autoscaler_build(settings: Settings) -> versions.ClusterAutoscalerBuild:
    """The image for the cluster's minor; guardrail GR-DRA-AUTOSCALER-VERSION ensures one is pinned."""
    return versions.CLUSTER_AUTOSCALER_BUILDS[settings.cluster.kubernetes_version]


def autoscaler_args(settings: Settings) -> list[str]:
    args = [
        # An empty GPU node lives as long as an empty Auto Mode GPU node would.
        f"--scale-down-unneeded-time={settings.gpu.consolidate_after}",
    ]
    if autoscaler_build(settings).needs_dra_flag:
        args.append("--enable-dynamic-resource-allocation=true")
    return args


def cluster_autoscaler_values(settings: Settings) -> dict[str, Any]:
    if settings.region is None:
        raise ValueError("aws:region is required for the Cluster Autoscaler")
    image = autoscaler_build(settings).image
    return {
        "cloudProvider": "aws",
        "awsRegion": settings.region,
        "autoDiscovery": {
            "clusterName": settings.cluster_name,
            "tags": [AUTOSCALER_ENABLED_TAG, autoscaler_cluster_tag(settings.cluster_name)],
        },
        "image": {"repository": image.repository, "tag": image.tag},
        # A fixed name, so the Pod Identity association can refer to it.
        "rbac": {"serviceAccount": {"name": AUTOSCALER_SERVICE_ACCOUNT}},
        "nodeSelector": dict(AUTO_MODE_NODE_SELECTOR),
        # extraArgs would do too, but its keys are free-form; customArgs are whole flags.
        "customArgs": autoscaler_args(settings),
    }


def autoscaler_policy(settings: Settings) -> dict[str, Any]:
    """Least privilege: read everything it must discover, scale only this cluster's groups."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Discover",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ScaleThisClustersGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{autoscaler_cluster_tag(settings.cluster_name)}": "owned"}
                },
            },
        ],
    }
