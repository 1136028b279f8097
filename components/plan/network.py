"""VPC layout: three AZs, a large private and a small public subnet in each."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..config import Settings

AZ_COUNT = 3
ELB_TAG = "kubernetes.io/role/elb"
INTERNAL_ELB_TAG = "kubernetes.io/role/internal-elb"
# Self-managed Karpenter's EC2NodeClass finds its subnets and security group by this tag.
KARPENTER_DISCOVERY_TAG = "karpenter.sh/discovery"


@dataclass(frozen=True)
class SubnetPlan:
    private: tuple[str, ...]
    public: tuple[str, ...]


def subnet_cidrs(vpc_cidr: str) -> SubnetPlan:
    """Private subnets take three quarters of the VPC (pods use VPC addresses);
    public subnets, which hold only load balancers and NAT, share the last quarter."""
    vpc = ipaddress.ip_network(vpc_cidr)
    quarters = list(vpc.subnets(prefixlen_diff=2))
    public = list(quarters[3].subnets(prefixlen_diff=2))[:AZ_COUNT]
    return SubnetPlan(
        private=tuple(str(net) for net in quarters[:AZ_COUNT]),
        public=tuple(str(net) for net in public),
    )


def karpenter_discovery_tags(settings: Settings) -> dict[str, str]:
    """Only with self-managed Karpenter; adding or removing a tag updates a subnet in place."""
    return {KARPENTER_DISCOVERY_TAG: settings.cluster_name} if settings.gpu.provisioner == "karpenter" else {}
