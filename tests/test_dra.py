"""Phase 2b: managed node group, NVIDIA DRA driver, Cluster Autoscaler, model servers on ResourceClaims."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components import mockrun
from components.config import Settings, resolve
from components.mockrun import Recording
from components.plan import dra
from components.plan.guardrails import Severity, evaluate
from tests import contracts
from tests.conftest import ROOT, base_config, cluster_and_vpc_urns, run_program, stack_config, tolerates, values

DRA_CHART = "dra-driver-nvidia-gpu-0.4.0"
AUTOSCALER_CHART = "cluster-autoscaler-9.59.0"
MODELSERVICE_CHART = "llm-d-modelservice-v0.4.9"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
ROLE = "aws:iam/role:Role"


def settings(**raw: Any) -> Settings:
    return resolve({"phase": "2b", **raw}, "t", region="us-west-2")


# --- plan: values against the reference charts ----------------------------------------------------


def test_dra_driver_values_fit_the_eks_nvidia_ami() -> None:
    contracts.require_reference()
    driver = dra.dra_driver_values()
    assert contracts.validate_helm_values(DRA_CHART, driver) == []
    assert driver["nvidiaDriverRoot"] == "/"
    assert driver["gpuResourcesEnabledOverride"] is True
    assert driver["resources"]["gpus"]["enabled"] is True
    assert driver["kubeletPlugin"]["nodeSelector"].items() <= dra.node_labels().items()
    assert all(tolerates(driver["kubeletPlugin"]["tolerations"], taint) for taint in dra.node_taints())


@pytest.mark.parametrize(("version", "dra_flag"), [("1.34", True), ("1.35", False), ("1.36", False)])
def test_autoscaler_values_follow_the_kubernetes_version(version: str, dra_flag: bool) -> None:
    contracts.require_reference()
    config = settings(cluster={"kubernetesVersion": version}, gpu={"consolidateAfter": "10m"})
    autoscaler = dra.cluster_autoscaler_values(config)
    assert contracts.validate_helm_values(AUTOSCALER_CHART, autoscaler) == []
    assert autoscaler["cloudProvider"] == "aws" and autoscaler["awsRegion"] == "us-west-2"
    assert autoscaler["image"]["tag"].startswith(f"v{version}."), "the autoscaler's minor must match the cluster's"
    # Locked on from 1.35 (the flag defaults to true there); 1.34 needs it.
    assert ("--enable-dynamic-resource-allocation=true" in autoscaler["customArgs"]) is dra_flag
    assert "--scale-down-unneeded-time=10m" in autoscaler["customArgs"]


def test_autoscaler_discovers_exactly_the_node_group_tags() -> None:
    contracts.require_reference()
    config = settings()
    autoscaler = dra.cluster_autoscaler_values(config)
    # The chart's default tags, rendered the way its `tpl` does.
    template = contracts.chart_defaults(AUTOSCALER_CHART)["autoDiscovery"]["tags"]
    rendered = [tag.replace("{{ .Values.autoDiscovery.clusterName }}", config.cluster_name) for tag in template]
    assert autoscaler["autoDiscovery"]["tags"] == rendered
    assert set(rendered) <= dra.node_group_tags(config).keys()


def test_model_servers_claim_gpus_through_the_dra_device_class() -> None:
    contracts.require_reference()
    from components.plan.llmd import modelservice_values

    ms = modelservice_values(settings())
    assert contracts.validate_helm_values(MODELSERVICE_CHART, ms) == []
    assert ms["accelerator"]["dra"] is True
    # gpu.nvidia.com: the DeviceClass the DRA driver's templates/deviceclass-gpu.yaml creates (v0.4.0).
    assert ms["accelerator"]["resourceClaimTemplates"]["nvidia"]["class"] == dra.GPU_DEVICE_CLASS == "gpu.nvidia.com"
    # No count: the chart requests tensor x data-local parallelism GPUs per pod.
    assert "count" not in ms["accelerator"]["resourceClaimTemplates"]["nvidia"]
    container = ms["decode"]["containers"][0]
    assert container["resources"] == {}
    assert ms["decode"]["nodeSelector"].items() <= dra.node_labels().items()
    assert "karpenter.sh/nodepool" not in ms["decode"]["nodeSelector"]
    assert all(tolerates(ms["decode"]["tolerations"], taint) for taint in dra.node_taints())


def test_autoscaler_may_scale_only_this_clusters_groups() -> None:
    config = settings()
    statements = {s["Sid"]: s for s in dra.autoscaler_policy(config)["Statement"]}
    scale = statements["ScaleThisClustersGroups"]
    assert set(scale["Action"]) == {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
    tag = f"k8s.io/cluster-autoscaler/{config.cluster_name}"
    assert scale["Condition"] == {"StringEquals": {f"aws:ResourceTag/{tag}": dra.node_group_tags(config)[tag]}}
    describe = statements["Discover"]
    assert all(":Describe" in a or ":Get" in a for a in describe["Action"]), "only reads without a condition"
    assert not [a for s in statements.values() for a in s["Action"] if "*" in a]


# --- guardrails ---------------------------------------------------------------------------------


def findings(**raw: Any) -> dict[str, Severity]:
    return {f.id: f.severity for f in evaluate(settings(**raw)) if f.id.startswith(("GR-DRA", "GR-PHASE-DRA"))}


@pytest.mark.parametrize(
    ("raw", "rule", "severity"),
    [
        ({"cluster": {"kubernetesVersion": "1.33"}}, "GR-DRA-KUBERNETES-VERSION", Severity.ERROR),
        ({"gpu": {"minNodes": 0}}, "GR-DRA-MIN-NODES", Severity.ERROR),
        ({"gpu": {"dra": False}}, "GR-DRA-NODE-GROUP-WITHOUT-DRA", Severity.ERROR),
        ({"gpu": {"operator": True}}, "GR-DRA-OPERATOR", Severity.ERROR),
        ({"cluster": {"kubernetesVersion": "1.37"}}, "GR-DRA-AUTOSCALER-VERSION", Severity.ERROR),
        ({"gpu": {"capacityTypes": ["on-demand", "spot"]}}, "GR-DRA-CAPACITY-TYPE", Severity.ERROR),
        ({"gpu": {"capacityTypes": ["reserved"]}}, "GR-DRA-CAPACITY-TYPE", Severity.ERROR),
        ({"gpu": {"instanceTypes": ["g6e.2xlarge"]}}, "GR-DRA-INSTANCE-TYPES", Severity.ERROR),  # 1 GPU < TP 2
        ({"gpu": {"maxNodes": 1}}, "GR-DRA-INSTANCE-TYPES", Severity.WARNING),  # 8 x TP2 > 8 GPUs
        ({"gpu": {"instanceTypes": ["p9.96xlarge"]}}, "GR-DRA-INSTANCE-TYPES", Severity.WARNING),
        ({"gpu": {"provisioner": "auto-mode"}}, "GR-PHASE-DRA-PROVISIONER", Severity.ERROR),
    ],
)
def test_guardrail_fires(raw: dict[str, Any], rule: str, severity: Severity) -> None:
    assert findings(**raw).get(rule) == severity


def test_a_sound_2b_configuration_has_no_findings() -> None:
    assert findings() == {}
    assert findings(cluster={"kubernetesVersion": "1.35"}, gpu={"capacityTypes": ["spot"], "maxNodes": 4}) == {}


def test_dra_rules_stay_quiet_outside_2b() -> None:
    assert {f.id for f in evaluate(resolve({"phase": "1.5"}, "t", region="us-west-2"))}.isdisjoint(
        {"GR-DRA-KUBERNETES-VERSION", "GR-DRA-MIN-NODES", "GR-DRA-CAPACITY-TYPE", "GR-DRA-INSTANCE-TYPES"}
    )


CONTRADICTIONS = {
    "dra-on-auto-mode": ({"phase": "1.5", "gpu": {"dra": True}}, r"\[GR-PHASE-DRA-PROVISIONER\] llmd-eks:gpu.dra"),
    "2b-on-1.33": (
        {"phase": "2b", "cluster": {"kubernetesVersion": "1.33"}},
        r"\[GR-DRA-KUBERNETES-VERSION\] llmd-eks:cluster.kubernetesVersion: 1.33",
    ),
    "min-nodes-0": ({"phase": "2b", "gpu": {"minNodes": 0}}, r"\[GR-DRA-MIN-NODES\] llmd-eks:gpu.minNodes: 0"),
}


@pytest.mark.parametrize("case", CONTRADICTIONS)
def test_contradictions_stop_before_any_registration(case: str) -> None:
    overrides, message = CONTRADICTIONS[case]
    config = base_config()
    for key, value in overrides.items():
        full = f"llmd-eks:{key}"
        config[full] = {**config.get(full, {}), **value} if isinstance(value, dict) else value
    recording = Recording()
    with pytest.raises(pulumi.RunError, match=message):
        mockrun.run_program("bad", config, recording=recording)
    assert recording.resources == []


# --- the program under mocks --------------------------------------------------------------------


def _phase2b() -> Recording:
    stack, config, secrets = stack_config(ROOT / "Pulumi.phase2b.yaml")
    return run_program(stack, config, secrets)


PHASE2B = _phase2b()


@pytest.mark.parametrize(
    ("release", "chart"),
    [
        ("nvidia-dra-driver-gpu", DRA_CHART),
        ("cluster-autoscaler", AUTOSCALER_CHART),
        ("llm-d-modelservice", MODELSERVICE_CHART),
    ],
)
def test_recorded_release_values_are_valid_for_their_charts(release: str, chart: str) -> None:
    contracts.require_reference()
    assert contracts.validate_helm_values(chart, values(PHASE2B.release(release))) == []


def test_node_group_is_the_gpu_capacity() -> None:
    node_group = PHASE2B.one(NODE_GROUP).inputs
    assert node_group["amiType"] == "AL2023_x86_64_NVIDIA"
    assert node_group["instanceTypes"] == ["p5.48xlarge"]
    assert node_group["capacityType"] == "ON_DEMAND"
    assert node_group["diskSize"] == 500
    assert node_group["labels"]["nvidia.com/gpu.present"] == "true"
    assert node_group["taints"] == [{"key": "nvidia.com/gpu", "effect": "NO_SCHEDULE"}]
    assert node_group["scalingConfig"] == {"minSize": 1, "maxSize": 2, "desiredSize": 1}
    cluster = PHASE2B.outputs["clusterName"]
    assert node_group["clusterName"] == cluster
    assert node_group["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
    assert node_group["tags"][f"k8s.io/cluster-autoscaler/{cluster}"] == "owned"
    subnets = PHASE2B.of_type("aws:ec2/subnet:Subnet")
    private = sorted(s.name for s in subnets if "kubernetes.io/role/internal-elb" in s.inputs["tags"])
    assert node_group["subnetIds"] == [f"{name}-id" for name in private]  # mock ids of the private subnets


def test_autoscaler_owns_the_desired_size() -> None:
    # Otherwise every `pulumi up` would undo the autoscaler's scaling.
    assert PHASE2B.one(NODE_GROUP).ignore_changes == ("scalingConfig.desiredSize",)


def test_node_role_has_the_worker_node_policies() -> None:
    node_group = PHASE2B.one(NODE_GROUP)
    role = next(r for r in PHASE2B.of_type(ROLE) if node_group.inputs["nodeRoleArn"].endswith(f"/{r.name}"))
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {
        a.inputs["policyArn"]
        for a in PHASE2B.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.name
    }
    assert attached == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    }
    attachments = {a.urn for a in PHASE2B.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments <= PHASE2B.waits_for(node_group)


def test_node_addons_and_dns_come_before_the_nodes() -> None:
    # Placement of coredns (Auto Mode nodes) and its owners across phases: tests/test_cluster_dns.py;
    # of the Pod Identity agent (the GPU nodes): tests/test_pod_identity_agent.py.
    addons = {a.inputs["addonName"]: a for a in PHASE2B.of_type(ADDON)}
    assert set(addons) == {"vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"}
    node_group = PHASE2B.one(NODE_GROUP)
    cluster = PHASE2B.one("eks:index:Cluster")
    assert {*(a.urn for a in addons.values()), cluster.urn} <= PHASE2B.waits_for(node_group)
    for addon in addons.values():
        assert addon.inputs["clusterName"] == PHASE2B.outputs["clusterName"]
        assert PHASE2B.waits_for(addon) == {cluster.urn}


def test_dra_driver_release() -> None:
    driver = PHASE2B.release("nvidia-dra-driver-gpu")
    assert driver.inputs["chart"] == "oci://registry.k8s.io/dra-driver-nvidia/charts/dra-driver-nvidia-gpu"
    assert driver.inputs["version"] == "0.4.0"
    assert driver.inputs["namespace"] == "nvidia-dra-driver-gpu" and driver.inputs["createNamespace"] is True
    assert values(driver) == dra.dra_driver_values()
    taints = PHASE2B.one(NODE_GROUP).inputs["taints"]
    assert all(tolerates(values(driver)["kubeletPlugin"]["tolerations"], taint) for taint in taints)


def test_autoscaler_release_and_its_pod_identity() -> None:
    autoscaler = PHASE2B.release("cluster-autoscaler")
    assert (autoscaler.inputs["chart"], autoscaler.inputs["version"]) == ("cluster-autoscaler", "9.59.0")
    assert autoscaler.inputs["repositoryOpts"]["repo"] == "https://kubernetes.github.io/autoscaler"
    config = values(autoscaler)
    assert config["awsRegion"] == PHASE2B.outputs["region"] == "us-east-2"
    assert config["autoDiscovery"]["clusterName"] == PHASE2B.outputs["clusterName"]
    assert "--enable-dynamic-resource-allocation=true" in config["customArgs"]  # Kubernetes 1.34
    # Credentials from the Pod Identity agent built into Auto Mode nodes.
    assert config["nodeSelector"] == {"eks.amazonaws.com/compute-type": "auto"}

    identity = PHASE2B.one("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert (identity.inputs["namespace"], identity.inputs["serviceAccount"]) == (
        autoscaler.inputs["namespace"],
        config["rbac"]["serviceAccount"]["name"],
    )
    role = next(r for r in PHASE2B.of_type(ROLE) if identity.inputs["roleArn"].endswith(f"/{r.name}"))
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert set(trust["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
    policy = PHASE2B.one("aws:iam/rolePolicy:RolePolicy")
    assert policy.inputs["role"] == role.name
    assert json.loads(policy.inputs["policy"]) == dra.autoscaler_policy(settings(cluster={"name": "llmd-phase2b"}))
    # Pod Identity injects credentials at pod creation: association (and its policy) first.
    assert {identity.urn, policy.urn} <= PHASE2B.waits_for(autoscaler)
    assert PHASE2B.one("eks:index:Cluster").urn in PHASE2B.waits_for(identity)


def test_model_servers_wait_for_nodes_dns_and_the_dra_driver() -> None:
    modelservice = PHASE2B.release("llm-d-modelservice")
    coredns = next(a for a in PHASE2B.of_type(ADDON) if a.inputs["addonName"] == "coredns")
    expected = {PHASE2B.one(NODE_GROUP).urn, coredns.urn, PHASE2B.release("nvidia-dra-driver-gpu").urn}
    assert expected <= PHASE2B.waits_for(modelservice)
    ms = values(modelservice)
    assert ms["accelerator"]["dra"] is True
    assert ms["decode"]["nodeSelector"].items() <= PHASE2B.one(NODE_GROUP).inputs["labels"].items()


def test_2b_has_no_auto_mode_gpu_pool_and_no_operator() -> None:
    assert not PHASE2B.of_type("kubernetes:karpenter.sh/v1:NodePool")
    assert not PHASE2B.of_type("aws:eks/accessEntry:AccessEntry")
    assert "gpu-operator" not in {r.inputs["name"] for r in PHASE2B.helm_releases()}
    component = PHASE2B.one("llmd:gpu:DraNodeGroup")
    children = [PHASE2B.one(NODE_GROUP), *(PHASE2B.release(n) for n in ("nvidia-dra-driver-gpu", "cluster-autoscaler"))]
    assert {reg.parent for reg in children} == {component.urn}
    versions = PHASE2B.outputs["versions"]
    assert (versions["draDriver"], versions["clusterAutoscaler"]) == ("0.4.0", "9.59.0")
    assert versions["clusterAutoscalerImage"] == "registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.5"


# The dev stack's GPUs (one L40S per replica) as a managed node group sizes them.
DEV_NODE_GROUP = {"instanceTypes": ["g6e.xlarge"], "capacityTypes": ["on-demand"], "ephemeralStorage": "200Gi"}


def test_node_group_uses_an_existing_vpcs_private_subnets() -> None:
    subnets = ["subnet-0a", "subnet-0b", "subnet-0c"]
    existing = {"vpcId": "vpc-0abc", "privateSubnetIds": subnets, "publicSubnetIds": ["subnet-0d"]}
    config = base_config(phase="2b", cluster={"existingVpc": existing}, gpu=DEV_NODE_GROUP)
    recording = run_program("existing", config)
    assert recording.one(NODE_GROUP).inputs["subnetIds"] == subnets


def test_switching_phases_keeps_cluster_and_vpc_urns() -> None:
    # Moving to 2b, the stack trades the NodePool's keys (instanceFamilies, maxGpus) for the node group's.
    configs = {"1": base_config(phase="1"), "1.5": base_config(phase="1.5")}
    configs["2b"] = base_config(phase="2b", gpu=DEV_NODE_GROUP)
    runs = {phase: run_program("switch", config) for phase, config in configs.items()}
    urns = {phase: cluster_and_vpc_urns(recording) for phase, recording in runs.items()}
    assert urns["1"] == urns["1.5"] == urns["2b"]
    assert not runs["2b"].warnings


def test_simulated_model_servers_need_no_gpu_platform() -> None:
    # model.simulate runs CPU simulators on Auto Mode: no node group, DRA driver or autoscaler.
    simulated = {"name": "Qwen/Qwen3-8B", "simulate": True, "replicas": 2}
    for phase in ("1.5", "2b"):
        recording = run_program("sim", base_config(phase=phase, model=simulated))
        assert not recording.of_type(NODE_GROUP) and not recording.of_type("llmd:gpu:GpuOperator")
        assert {r.inputs["name"] for r in recording.helm_releases()}.isdisjoint(
            {"gpu-operator", "nvidia-dra-driver-gpu", "cluster-autoscaler"}
        )
        assert "accelerator" not in values(recording.release("llm-d-modelservice"))
        assert "draDriver" not in recording.outputs["versions"]
