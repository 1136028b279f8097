"""AutoModeCluster: the VPC, the EKS Auto Mode cluster and the Kubernetes provider.

Present in every phase with the same logical names and parent, so changing
``llmd-eks:phase`` never replaces the cluster or the VPC.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from .config import Settings
from .plan import network

BUILT_IN_NODE_POOLS = ["system", "general-purpose"]  # at least one keeps the `default` NodeClass


class Network(pulumi.ComponentResource):
    """A new VPC: public and private subnets in three AZs, one NAT gateway."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmd:cluster:Network", name, None, opts)
        protect = settings.cluster.protect
        child = pulumi.ResourceOptions(parent=self, protect=protect)
        tags = {"Name": settings.cluster_name, "llmd-eks/stack": settings.stack}
        plan = network.subnet_cidrs(settings.cluster.vpc_cidr)
        zones = aws.get_availability_zones_output(
            state="available",
            # Availability Zones proper: Local and Wavelength Zones are opt-in, and EKS
            # control-plane subnets and NAT gateways cannot live there.
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=settings.cluster.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags,
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=tags,
            opts=child,
        )
        public = self._subnets(
            f"{name}-public", plan.public, zones, vpc, public_rt, {**tags, network.ELB_TAG: "1"}, child, public=True
        )

        nat_ip = aws.ec2.Eip(f"{name}-nat", domain="vpc", tags=tags, opts=child)
        nat = aws.ec2.NatGateway(
            f"{name}-nat",
            subnet_id=public[0].id,
            allocation_id=nat_ip.id,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=protect, depends_on=[igw]),
        )
        private_rt = aws.ec2.RouteTable(
            f"{name}-private",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
            tags=tags,
            opts=child,
        )
        private_tags = {**tags, network.INTERNAL_ELB_TAG: "1", **network.karpenter_discovery_tags(settings)}
        private = self._subnets(f"{name}-private", plan.private, zones, vpc, private_rt, private_tags, child)

        self.vpc_id = vpc.id
        self.private_subnet_ids = [s.id for s in private]
        self.public_subnet_ids = [s.id for s in public]
        self.register_outputs({"vpcId": self.vpc_id})

    @staticmethod
    def _subnets(
        prefix: str,
        cidrs: Sequence[str],
        zones: pulumi.Output[aws.GetAvailabilityZonesResult],
        vpc: aws.ec2.Vpc,
        route_table: aws.ec2.RouteTable,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions,
        public: bool = False,
    ) -> list[aws.ec2.Subnet]:
        """One subnet per AZ (``<prefix>-<index>``), each associated with ``route_table``."""
        subnets = []
        for index, cidr in enumerate(cidrs):
            subnet = aws.ec2.Subnet(
                f"{prefix}-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zones.names[index],
                map_public_ip_on_launch=public or None,
                tags=tags,
                opts=opts,
            )
            aws.ec2.RouteTableAssociation(
                f"{prefix}-{index}", subnet_id=subnet.id, route_table_id=route_table.id, opts=opts
            )
            subnets.append(subnet)
        return subnets


class AutoModeCluster(pulumi.ComponentResource):
    """EKS with Auto Mode (built-in pools on), API authentication and an explicit provider."""

    cluster: eks.Cluster
    provider: k8s.Provider
    private_subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmd:cluster:AutoModeCluster", name, None, opts)
        cfg = settings.cluster
        if cfg.existing_vpc is not None:
            vpc_id: pulumi.Input[str] = cfg.existing_vpc.vpc_id
            private_ids: Sequence[pulumi.Input[str]] = list(cfg.existing_vpc.private_subnet_ids)
        else:
            net = Network(f"{name}-network", settings, pulumi.ResourceOptions(parent=self))
            vpc_id, private_ids = net.vpc_id, net.private_subnet_ids

        self.cluster = eks.Cluster(
            f"{name}-eks",
            name=settings.cluster_name,
            version=cfg.kubernetes_version,
            vpc_id=vpc_id,
            # Private subnets only: Auto Mode's built-in pools launch nodes into the
            # cluster's subnets, and public ones would give them public IPs. Load
            # balancers find the public subnets by their kubernetes.io/role/elb tag.
            private_subnet_ids=list(private_ids),
            authentication_mode=eks.AuthenticationMode.API,
            # Plain values: the provider needs `enabled` known at preview.
            auto_mode=eks.AutoModeOptionsArgs(
                enabled=True,
                compute_config=eks.ClusterComputeConfigArgs(node_pools=list(BUILT_IN_NODE_POOLS)),
            ),
            # Auto Mode nodes use the EKS-created cluster security group.
            skip_default_security_groups=True,
            skip_default_node_group=True,
            # pulumi-eks (4.4.0) adds a coredns add-on whenever Auto Mode is on (pulumi/pulumi-eks#1726);
            # Auto Mode nodes resolve DNS themselves. The phases with nodes outside Auto Mode create
            # coredns next to those nodes (node_addons.py), so it has one owner in every phase.
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            endpoint_public_access=cfg.endpoint_public_access,
            endpoint_private_access=True,
            public_access_cidrs=list(cfg.public_access_cidrs) if cfg.endpoint_public_access else None,
            deletion_protection=cfg.protect,
            tags={"llmd-eks/stack": settings.stack},
            opts=pulumi.ResourceOptions(parent=self, protect=cfg.protect),
        )
        self.kubeconfig = self.cluster.kubeconfig_json
        self.private_subnet_ids = private_ids
        self.security_group_id = self.cluster.cluster_security_group_id
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"clusterName": settings.cluster_name})


class ExistingCluster(pulumi.ComponentResource):
    """A cluster someone else runs (kind, minikube, another EKS): only a Kubernetes
    provider for a context of the local kubeconfig; nothing is created in AWS."""

    provider: k8s.Provider

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmd:cluster:ExistingCluster", name, None, opts)
        context = settings.cluster.kubeconfig_context
        self.provider = k8s.Provider(
            f"{name}-k8s",
            # No kubeconfig argument: the provider reads $KUBECONFIG or ~/.kube/config;
            # no context: that file's current context.
            context=context or None,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"context": context})
