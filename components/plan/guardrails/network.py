"""The VPC an EKS stack runs in: what an existing VPC must provide."""

from __future__ import annotations

from collections.abc import Iterator

from ...config import Settings
from . import Finding, Scope, Severity, key, rule


@rule("GR-EXISTING-VPC-PUBLIC-SUBNETS", scope=Scope.AWS)
def internet_nlb_needs_public_subnets(settings: Settings) -> Iterator[Finding]:
    vpc = settings.cluster.existing_vpc
    if vpc is None or settings.serving.exposure != "internet-nlb" or vpc.public_subnet_ids:
        return
    yield Finding(
        "GR-EXISTING-VPC-PUBLIC-SUBNETS",
        Severity.ERROR,
        key("cluster.existingVpc.publicSubnetIds"),
        "serving.exposure internet-nlb needs public subnets, and the existing VPC lists none: the NLB would "
        "fail to provision after everything else is deployed.",
        "list the VPC's public subnets (tagged kubernetes.io/role/elb=1) in cluster.existingVpc.publicSubnetIds, "
        "or use serving.exposure internal-nlb or cluster-ip.",
    )
