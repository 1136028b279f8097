"""The IAM role of GPU nodes outside the managed node group, and the access entry that lets them join."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .cluster import AutoModeCluster
from .config import Settings
from .plan.iam import EC2_TRUST


@dataclass(frozen=True)
class NodeRole:
    role: aws.iam.Role
    attachments: list[aws.iam.RolePolicyAttachment]
    access_entry: aws.eks.AccessEntry


def node_role(
    name: str,
    settings: Settings,
    cluster: AutoModeCluster,
    *,
    policies: Sequence[str],
    access_entry_type: str,
    access_entry_name: str,
    parent: pulumi.Resource,
) -> NodeRole:
    """``<name>-node-role`` with ``policies`` attached and an access entry of
    ``access_entry_type`` (created after the cluster)."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(f"{name}-node-role", assume_role_policy=EC2_TRUST, opts=child)
    attachments = [
        aws.iam.RolePolicyAttachment(f"{name}-node-{arn.rsplit('/', 1)[1]}", role=role.name, policy_arn=arn, opts=child)
        for arn in policies
    ]
    entry = aws.eks.AccessEntry(
        access_entry_name,
        cluster_name=settings.cluster_name,
        principal_arn=role.arn,
        type=access_entry_type,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[cluster.cluster]),
    )
    return NodeRole(role, attachments, entry)
