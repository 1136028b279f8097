"""Phases 2a and 3 under mocks: self-managed Karpenter, GPU Operator on its nodes, llm-d P/D, Dynamo.

Every committed 2a/3 stack and a set of variants run through the real program;
the graph is asserted from the recorded registrations, and what it emits is
checked against ../shared/reference (Karpenter, GPU Operator, llm-d charts and
CRDs) and tests/reference_extra (Dynamo platform + DynamoGraphDeployment CRD,
EFA device plugin), which hold upstream data the shared reference does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import mockrun
from components.mockrun import Recording, Registration
from components.plan import pd
from tests import contracts, extra_reference
from tests.conftest import (
    CLUSTER_AND_VPC,
    HF_TOKEN,
    K8S_PROVIDER,
    ROOT,
    STACK_FILES,
    cluster_and_vpc_urns,
    run_program,
    stack_config,
    values,
)
from tests.test_reference import LIST_ITEM_KEYS

PHASES = {"2a", "3"}
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
EC2NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
DGD = "kubernetes:nvidia.com/v1alpha1:DynamoGraphDeployment"
TAG = "aws:ec2/tag:Tag"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
SUBNET = "aws:ec2/subnet:Subnet"
# Release name -> reference chart: shared reference, then tests/reference_extra.
SHARED_CHARTS = {
    "karpenter": "karpenter-1.14.1",
    "gpu-operator": "gpu-operator-v26.3.3",
    "llm-d-infra": "llm-d-infra-v1.4.0",
    "llm-d-inferencepool": "inferencepool-v1.4.0",
    "llm-d-modelservice": "llm-d-modelservice-v0.4.9",
}
EXTRA_CHARTS = {
    "dynamo-platform": "dynamo-platform-1.0.0",
    "aws-efa-k8s-device-plugin": "aws-efa-k8s-device-plugin-v0.5.30",
}
ISTIO = {"istio-base", "istiod"}  # not in any reference (the foundation's tests say so too)
# CRDs the shared reference lacks: (reference_extra folder, schema file).
EXTRA_SCHEMAS = {
    ("nvidia.com/v1alpha1", "DynamoGraphDeployment"): (
        "dynamo-platform-1.0.0",
        "dynamographdeployment-v1alpha1-schema.json",
    )
}

PHASE2A = ROOT / "Pulumi.phase2a.yaml"
PHASE3 = ROOT / "Pulumi.phase3.yaml"


def _stack(path: Path) -> tuple[str, dict[str, Any], dict[str, str]]:
    return stack_config(path)


def _with(path: Path, **overrides: Any) -> dict[str, Any]:
    _, config, _ = _stack(path)
    return {**config, **mockrun.namespaced(overrides)}


_, _P2A, _ = _stack(PHASE2A)
_P2A_GPU = _P2A["llmd-eks:gpu"]
VARIANTS: dict[str, tuple[dict[str, Any], bool]] = {  # name -> (config, with HF token)
    "2a-aggregated": (_with(PHASE2A, serving={"path": "inference-scheduling"}), False),
    "2a-pd-g6e-tcp": (
        _with(
            PHASE2A,
            gpu={"instanceFamilies": ["g6e"], "maxGpus": 8},
            model={"name": "Qwen/Qwen3-8B", "tensorParallelism": 1, "replicas": 2},
            serving={"prefill": {"replicas": 2, "tensorParallelism": 1}},
        ),
        True,
    ),
    "2a-mig": (
        _with(
            PHASE2A,
            gpu={**_P2A_GPU, "mig": {"strategy": "single", "profile": "all-3g.40gb"}},
            model={"name": "Qwen/Qwen3-8B", "tensorParallelism": 1, "replicas": 8},
            serving={"prefill": {"replicas": 8, "tensorParallelism": 1}},
        ),
        False,
    ),
    "2a-spot-existing-vpc": (
        _with(
            PHASE2A,
            gpu={**_P2A_GPU, "instanceFamilies": ["p5", "p5en"], "capacityTypes": ["spot", "on-demand"]},
            cluster={
                "existingVpc": {
                    "vpcId": "vpc-0abc",
                    "privateSubnetIds": ["subnet-01", "subnet-02", "subnet-03"],
                    "publicSubnetIds": ["subnet-04"],
                }
            },
        ),
        True,
    ),
    "3-disaggregated": (
        _with(
            PHASE3,
            gpu={"instanceFamilies": ["p5"], "maxGpus": 16},
            model={"name": "Qwen/Qwen3-32B", "tensorParallelism": 4, "replicas": 2},
            serving={"path": "pd-disaggregation", "prefill": {"replicas": 4, "tensorParallelism": 2}},
        ),
        True,
    ),
    "3-cluster-ip": (_with(PHASE3, serving={"exposure": "cluster-ip", "namespace": "inference"}), False),
}


def _phase_1_twin(config: dict[str, Any]) -> dict[str, Any]:
    """The same stack configuration at phase 1 (minus what only 2a/3 accept)."""
    twin = {**config, "llmd-eks:phase": "1"}
    twin["llmd-eks:serving"] = {
        k: v for k, v in config.get("llmd-eks:serving", {}).items() if k not in {"prefill", "path"}
    }
    twin["llmd-eks:gpu"] = {k: v for k, v in config.get("llmd-eks:gpu", {}).items() if k != "mig"}
    return twin


def _all_runs() -> list[tuple[str, Recording, Recording]]:
    """(name, run, the same configuration's phase-1 run) for every 2a/3 stack file and variant."""
    runs = []
    cases = [_stack(path) for path in STACK_FILES]
    cases = [case for case in cases if case[1].get("llmd-eks:phase") in PHASES]
    cases += [
        (name, config, {"llmd-eks:hfToken": HF_TOKEN} if token else {}) for name, (config, token) in VARIANTS.items()
    ]
    for name, config, secrets in cases:
        run = run_program(name, config, secrets)
        runs.append((name, run, run_program(name, _phase_1_twin(config), secrets)))
    return runs


RUNS = _all_runs()
BY_NAME = {name: run for name, run, _ in RUNS}


@pytest.fixture(params=[(name, run) for name, run, _ in RUNS], ids=[name for name, _, _ in RUNS])
def recording(request: pytest.FixtureRequest) -> Recording:
    return request.param[1]


def phase(recording: Recording) -> str:
    return recording.outputs["phase"]


def releases(recording: Recording) -> set[str]:
    return {r.inputs["name"] for r in recording.helm_releases()}


def cr_object(reg: Registration) -> dict[str, Any]:
    return {key: reg.inputs[key] for key in ("apiVersion", "kind", "metadata", "spec") if key in reg.inputs}


# --- the stacks and the graph's invariants ----------------------------------------------------


def test_example_stacks_for_2a_and_3_are_committed_and_run() -> None:
    assert {"phase2a", "phase3"} <= BY_NAME.keys()
    assert phase(BY_NAME["phase2a"]) == "2a" and phase(BY_NAME["phase3"]) == "3"


def test_auto_mode_cluster_stays_for_system_and_cpu_pods(recording: Recording) -> None:
    auto = recording.one("eks:index:Cluster").inputs["autoMode"]
    assert auto["enabled"] is True
    assert sorted(auto["computeConfig"]["nodePools"]) == ["general-purpose", "system"]


@pytest.mark.parametrize(("name", "twin"), [(name, twin) for name, _, twin in RUNS], ids=[n for n, _, _ in RUNS])
def test_cluster_and_vpc_urns_are_those_of_phase_1(name: str, twin: Recording) -> None:
    run = BY_NAME[name]
    assert cluster_and_vpc_urns(run) == cluster_and_vpc_urns(twin)
    for reg in run.resources:
        if reg.type in CLUSTER_AND_VPC and (reg.custom or reg.remote) and reg.type != K8S_PROVIDER:
            other = next(r for r in twin.resources if r.urn.split("::", 1)[1] == reg.urn.split("::", 1)[1])
            changed = {k for k in set(reg.inputs) | set(other.inputs) if reg.inputs.get(k) != other.inputs.get(k)}
            # Only the Karpenter discovery tag differs: an in-place update of the private subnets.
            assert changed <= {"tags"}, f"{reg.type} {reg.name}: {changed}"
            if reg.type == "eks:index:Cluster":
                assert not changed, "the cluster itself is not touched"


# --- Karpenter ----------------------------------------------------------------------------------


def karpenter(recording: Recording) -> Registration:
    return recording.release("karpenter")


def test_karpenter_release_is_pinned_with_cluster_and_queue(recording: Recording) -> None:
    release = karpenter(recording)
    assert release.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert release.inputs["version"] == "1.14.1"
    assert release.inputs["namespace"] == "kube-system"
    settings = values(release)["settings"]
    assert settings["clusterName"] == recording.outputs["clusterName"]
    queue = recording.one("aws:sqs/queue:Queue")
    assert settings["interruptionQueue"] == queue.inputs["name"]
    assert len(queue.inputs["name"]) <= 80
    env = {e["name"]: e["value"] for e in values(release)["controller"]["env"]}
    assert env["AWS_REGION"] == recording.outputs["region"]


def test_karpenter_runs_on_auto_mode_nodes_not_on_its_own(recording: Recording) -> None:
    affinity = values(karpenter(recording))["affinity"]["nodeAffinity"]
    terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [
        {"matchExpressions": [{"key": "eks.amazonaws.com/compute-type", "operator": "In", "values": ["auto"]}]}
    ]


def test_karpenter_identity_through_pod_identity(recording: Recording) -> None:
    release = karpenter(recording)
    association = recording.one("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert association.inputs["namespace"] == release.inputs["namespace"]
    assert association.inputs["serviceAccount"] == values(release)["serviceAccount"]["name"]
    assert association.inputs["clusterName"] == recording.outputs["clusterName"]
    role = next(r for r in recording.of_type("aws:iam/role:Role") if r.name == "karpenter-controller")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert set(trust["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
    assert association.inputs["roleArn"].endswith("/karpenter-controller")


def test_controller_policy_is_scoped_to_this_cluster(recording: Recording) -> None:
    policy = json.loads(recording.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    node_role = next(r for r in recording.of_type("aws:iam/role:Role") if r.name == "karpenter-node-role")
    cluster = recording.outputs["clusterName"]
    assert statements["AllowPassingInstanceRole"]["Resource"].endswith(f"/{node_role.name}")
    assert statements["AllowInterruptionQueueActions"]["Resource"].endswith(
        recording.one("aws:sqs/queue:Queue").inputs["name"]
    )
    assert statements["AllowAPIServerEndpointDiscovery"]["Resource"].endswith(f":cluster/{cluster}")
    for sid in ("AllowScopedEC2InstanceActionsWithTags", "AllowScopedDeletion", "AllowScopedInstanceProfileActions"):
        assert f"kubernetes.io/cluster/{cluster}" in json.dumps(statements[sid]["Condition"]), sid
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"ec2:RunInstances", "ec2:CreateFleet", "ec2:TerminateInstances", "iam:CreateInstanceProfile"} <= actions
    assert not any(a.endswith(":*") or a == "*" for a in actions)


def test_node_role_joins_through_an_ec2_linux_access_entry(recording: Recording) -> None:
    entry = recording.one("aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["type"] == "EC2_LINUX"
    assert entry.inputs["principalArn"].endswith("/karpenter-node-role")
    policies = {
        r.inputs["policyArn"].rsplit("/", 1)[1]
        for r in recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly"} <= policies
    trust = json.loads(
        next(r for r in recording.of_type("aws:iam/role:Role") if r.name == "karpenter-node-role").inputs[
            "assumeRolePolicy"
        ]
    )
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_interruption_queue_receives_the_five_event_kinds(recording: Recording) -> None:
    queue = recording.one("aws:sqs/queue:Queue")
    rules = {
        r.urn: json.loads(r.inputs["eventPattern"]) for r in recording.of_type("aws:cloudwatch/eventRule:EventRule")
    }
    kinds = {(p["source"][0], p["detail-type"][0]) for p in rules.values()}
    assert kinds == {
        ("aws.health", "AWS Health Event"),
        ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
        ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
        ("aws.ec2", "EC2 Instance State-change Notification"),
        ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
    }
    targets = recording.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert {urn for t in targets for urn in t.property_dependencies["rule"]} == set(rules), "one target per rule"
    for target in targets:
        assert target.property_dependencies["arn"] == (queue.urn,)
        assert target.inputs["arn"].endswith(f":{queue.inputs['name']}")
    statement = json.loads(recording.one("aws:sqs/queuePolicy:QueuePolicy").inputs["policy"])["Statement"][0]
    assert "events.amazonaws.com" in statement["Principal"]["Service"]
    assert statement["Action"] == "sqs:SendMessage"


def test_discovery_tags_on_private_subnets_and_cluster_security_group(recording: Recording) -> None:
    cluster = recording.outputs["clusterName"]
    tags = recording.of_type(TAG)
    # The cluster security group EKS creates (the mock's clusterSecurityGroupId).
    assert [t.inputs for t in tags if t.name.endswith("-sg")] == [
        {"resourceId": "sg-0123456789abcdef0", "key": "karpenter.sh/discovery", "value": cluster}
    ]
    subnets = recording.of_type(SUBNET)
    if subnets:  # a new VPC: Network tags its private subnets, never the public ones
        private = [s for s in subnets if "kubernetes.io/role/internal-elb" in s.inputs["tags"]]
        public = [s for s in subnets if "kubernetes.io/role/elb" in s.inputs["tags"]]
        assert all(s.inputs["tags"]["karpenter.sh/discovery"] == cluster for s in private)
        assert not any("karpenter.sh/discovery" in s.inputs["tags"] for s in public)
    else:  # an existing VPC: a Tag per private subnet
        subnet_tags = sorted(t.inputs["resourceId"] for t in tags if "subnet" in t.name)
        assert subnet_tags == ["subnet-01", "subnet-02", "subnet-03"]


def test_ec2nodeclass_selects_by_discovery_and_pins_the_nvidia_ami(recording: Recording) -> None:
    node_class = recording.one(EC2NODECLASS).inputs
    spec = node_class["spec"]
    discovery = [{"tags": {"karpenter.sh/discovery": recording.outputs["clusterName"]}}]
    assert spec["subnetSelectorTerms"] == spec["securityGroupSelectorTerms"] == discovery
    assert spec["amiSelectorTerms"] == [{"alias": "al2023@v20260714"}]
    assert spec["role"] == "karpenter-node-role"
    root = spec["blockDeviceMappings"][0]
    assert root["rootVolume"] is True and root["deviceName"] == "/dev/xvda"
    configured = mockrun_config(recording)["gpu"].get("ephemeralStorage", "500Gi")
    assert root["ebs"]["volumeSize"] == configured
    assert root["ebs"]["volumeType"] == "gp3" and root["ebs"]["encrypted"] is True


def mockrun_config(recording: Recording) -> dict[str, Any]:
    name = next(n for n, run in BY_NAME.items() if run is recording)
    config = VARIANTS[name][0] if name in VARIANTS else _stack(ROOT / f"Pulumi.{name}.yaml")[1]
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("llmd-eks:")}


def test_gpu_nodepool_is_karpenter_s_and_distinct_from_auto_mode_s(recording: Recording) -> None:
    pool = recording.one(NODEPOOL).inputs
    spec = pool["spec"]
    node_class = recording.one(EC2NODECLASS).inputs
    assert spec["template"]["spec"]["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": node_class["metadata"]["name"],
    }
    assert pool["metadata"]["name"] != "llmd-gpu", "the Auto Mode pool's name: a phase change would clobber it"
    requirements = {r["key"]: r for r in spec["template"]["spec"]["requirements"]}
    gpu = mockrun_config(recording)["gpu"]
    assert requirements["karpenter.k8s.aws/instance-family"]["values"] == gpu["instanceFamilies"]
    assert requirements["karpenter.sh/capacity-type"]["values"] == gpu.get("capacityTypes", ["on-demand"])
    assert requirements["kubernetes.io/arch"]["values"] == ["amd64"]
    assert not any(key.startswith("eks.amazonaws.com/") for key in requirements)
    assert {"key": "nvidia.com/gpu", "effect": "NoSchedule"} in spec["template"]["spec"]["taints"]
    assert spec["limits"]["nvidia.com/gpu"] == str(gpu["maxGpus"])
    assert spec["disruption"]["consolidationPolicy"] == "WhenEmpty"
    assert spec["disruption"]["budgets"] == [{"nodes": "1"}]
    assert not recording.custom_resources("eks.amazonaws.com/v1", "NodeClass"), "no Auto Mode GPU pool"


def test_self_managed_nodes_get_cni_kube_proxy_dns_and_the_pod_identity_agent(recording: Recording) -> None:
    addons = {r.inputs["addonName"] for r in recording.of_type("aws:eks/addon:Addon")}
    assert addons == {"vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"}


def test_ordering_karpenter_before_its_custom_resources(recording: Recording) -> None:
    release = karpenter(recording)
    node_class = recording.one(EC2NODECLASS)
    pool = recording.one(NODEPOOL)
    association = recording.one("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    entry = recording.one("aws:eks/accessEntry:AccessEntry")
    assert {association.urn, recording.one("aws:iam/rolePolicy:RolePolicy").urn} <= recording.waits_for(release)
    assert {release.urn, entry.urn} <= recording.waits_for(node_class)
    assert {release.urn, node_class.urn} <= recording.waits_for(pool)
    assert {a.urn for a in recording.of_type("aws:eks/addon:Addon")} <= recording.waits_for(pool)
    assert {t.urn for t in recording.of_type(TAG)} <= recording.waits_for(node_class)


# --- GPU Operator on Karpenter nodes ------------------------------------------------------------


def test_gpu_operator_device_plugin_runs_on_karpenter_nodes(recording: Recording) -> None:
    operator = values(recording.release("gpu-operator"))
    assert operator["devicePlugin"]["enabled"] is True
    assert operator["driver"]["enabled"] is False and operator["toolkit"]["enabled"] is False
    labels = recording.one(NODEPOOL).inputs["spec"]["template"].get("metadata", {}).get("labels", {})
    assert "nvidia.com/gpu.deploy.device-plugin" not in labels
    mig = mockrun_config(recording)["gpu"].get("mig")
    assert operator["migManager"]["enabled"] is (mig is not None)
    if mig:
        assert operator["mig"] == {"strategy": mig["strategy"]}
        assert labels["nvidia.com/mig.config"] == mig["profile"]


def test_model_servers_wait_for_gpu_capacity_and_the_device_plugin(recording: Recording) -> None:
    waiting = recording.release("llm-d-modelservice") if phase(recording) == "2a" else recording.one(DGD)
    deps = recording.waits_for(waiting)
    assert recording.one(NODEPOOL).urn in deps
    assert recording.release("gpu-operator").urn in deps


# --- llm-d prefill/decode disaggregation (2a) ---------------------------------------------------


def pd_runs() -> list[str]:
    return [
        name
        for name, run, _ in RUNS
        if phase(run) == "2a"
        and "llm-d-modelservice" in releases(run)
        and values(run.release("llm-d-modelservice"))["prefill"]["create"]
    ]


@pytest.mark.parametrize("name", pd_runs())
def test_prefill_and_decode_follow_the_config(name: str) -> None:
    run = BY_NAME[name]
    config = mockrun_config(run)
    ms = values(run.release("llm-d-modelservice"))
    prefill, decode = ms["prefill"], ms["decode"]
    assert (decode["replicas"], decode["parallelism"]["tensor"]) == (
        config["model"]["replicas"],
        config["model"]["tensorParallelism"],
    )
    wanted = config["serving"]["prefill"]
    assert (prefill["replicas"], prefill["parallelism"]["tensor"]) == (
        wanted["replicas"],
        wanted["tensorParallelism"],
    )
    for role in (prefill, decode):
        container = role["containers"][0]
        gpus = str(role["parallelism"]["tensor"])
        assert container["resources"]["limits"]["nvidia.com/gpu"] == gpus
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in role["tolerations"]
        assert role["nodeSelector"] == {"karpenter.sh/nodepool": run.one(NODEPOOL).inputs["metadata"]["name"]}
        transfer = json.loads(container["args"][container["args"].index("--kv-transfer-config") + 1])
        assert transfer["kv_connector"] == "NixlConnector" and transfer["kv_role"] == "kv_both"
        assert {"containerPort": 5600, "name": "nixl", "protocol": "TCP"} in container["ports"]


@pytest.mark.parametrize("name", pd_runs())
def test_routing_sidecar_fronts_decode_and_ports_line_up(name: str) -> None:
    run = BY_NAME[name]
    ms = values(run.release("llm-d-modelservice"))
    proxy = ms["routing"]["proxy"]
    assert proxy["enabled"] is True
    assert proxy["image"] == "ghcr.io/llm-d/llm-d-routing-sidecar:v0.7.1"
    assert proxy["connector"] == "nixlv2"
    decode = ms["decode"]["containers"][0]
    prefill = ms["prefill"]["containers"][0]
    # The chart starts decode's vLLM on routing.proxy.targetPort and prefill's on routing.servicePort.
    assert decode["ports"][0]["containerPort"] == proxy["targetPort"] != ms["routing"]["servicePort"]
    assert prefill["ports"][0]["containerPort"] == ms["routing"]["servicePort"]
    for container in (decode, prefill):
        port = container["ports"][0]["containerPort"]
        assert {container[p]["httpGet"]["port"] for p in ("startupProbe", "livenessProbe", "readinessProbe")} == {port}
    pool = values(run.release("llm-d-inferencepool"))["inferencePool"]
    assert pool["targetPorts"] == [{"number": ms["routing"]["servicePort"]}]


@pytest.mark.parametrize("name", pd_runs())
def test_one_pool_selects_prefill_and_decode_told_apart_by_role(name: str) -> None:
    run = BY_NAME[name]
    ms = values(run.release("llm-d-modelservice"))
    selector = values(run.release("llm-d-inferencepool"))["inferencePool"]["modelServers"]["matchLabels"]
    # The chart labels pods modelArtifacts.labels + llm-d.ai/role: prefill | decode.
    for role in ("prefill", "decode"):
        pod_labels = {**ms["modelArtifacts"]["labels"], "llm-d.ai/role": role}
        assert selector.items() <= pod_labels.items()
    assert "llm-d.ai/role" not in selector


@pytest.mark.parametrize("name", pd_runs())
def test_endpoint_picker_runs_the_disaggregation_profile_handler(name: str) -> None:
    extension = values(BY_NAME[name].release("llm-d-inferencepool"))["inferenceExtension"]
    config_file = extension["pluginsConfigFile"]
    config = yaml.safe_load(extension["pluginsCustomConfig"][config_file])
    assert config["kind"] == "EndpointPickerConfig"
    plugins = {p["type"]: p.get("parameters", {}) for p in config["plugins"]}
    handler = plugins["disagg-profile-handler"]
    assert handler["deciders"]["prefill"] in plugins, "the decider it names is declared"
    assert {"prefill-filter", "decode-filter", "disagg-headers-handler", "max-score-picker"} <= plugins.keys()
    profiles = {p["name"]: [ref["pluginRef"] for ref in p["plugins"]] for p in config["schedulingProfiles"]}
    assert profiles.keys() == {"prefill", "decode"}
    assert "prefill-filter" in profiles["prefill"] and "decode-filter" in profiles["decode"]
    for refs in profiles.values():
        assert set(refs) <= plugins.keys()
    assert extension["image"]["tag"] == "v0.7.0"


def test_efa_families_get_efa_devices_libfabric_and_one_zone() -> None:
    run = BY_NAME["phase2a"]
    ms = values(run.release("llm-d-modelservice"))
    for role, gpus in (("decode", 4), ("prefill", 2)):
        container = ms[role]["containers"][0]
        # p5.48xlarge: 32 EFA interfaces for 8 GPUs, a pod gets its GPUs' share.
        assert container["resources"]["limits"]["vpc.amazonaws.com/efa"] == str(4 * gpus)
        transfer = json.loads(container["args"][container["args"].index("--kv-transfer-config") + 1])
        assert transfer["kv_connector_extra_config"] == {"backends": ["LIBFABRIC"]}
        assert container["extraConfig"]["securityContext"]["capabilities"]["add"] == ["IPC_LOCK"]
        term = ms[role]["extraConfig"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert term["topologyKey"] == "topology.kubernetes.io/zone"
        assert term["labelSelector"]["matchLabels"] == ms["modelArtifacts"]["labels"]
    plugin = run.release("aws-efa-k8s-device-plugin")
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values(plugin)["tolerations"]
    assert plugin.urn in run.waits_for(run.release("llm-d-modelservice"))


def test_non_efa_families_transfer_over_tcp_without_the_plugin() -> None:
    run = BY_NAME["2a-pd-g6e-tcp"]
    ms = values(run.release("llm-d-modelservice"))
    for role in ("decode", "prefill"):
        container = ms[role]["containers"][0]
        assert "vpc.amazonaws.com/efa" not in container["resources"]["limits"]
        assert "extraConfig" not in ms[role]
        assert "LIBFABRIC" not in " ".join(container["args"])
    assert "aws-efa-k8s-device-plugin" not in releases(run)
    assert any("GR-PD-EFA" in w for w in run.warnings)


def test_aggregated_2a_keeps_the_inference_scheduling_values() -> None:
    ms = values(BY_NAME["2a-aggregated"].release("llm-d-modelservice"))
    assert ms["prefill"] == {"create": False}
    assert ms["routing"]["proxy"]["enabled"] is False
    assert (
        "pluginsCustomConfig"
        not in values(BY_NAME["2a-aggregated"].release("llm-d-inferencepool"))["inferenceExtension"]
    )


# --- Dynamo (3) -----------------------------------------------------------------------------------


def dynamo_runs() -> list[str]:
    return [name for name, run, _ in RUNS if phase(run) == "3"]


@pytest.mark.parametrize("name", dynamo_runs())
def test_phase_3_serves_with_dynamo_and_no_llm_d(name: str) -> None:
    run = BY_NAME[name]
    assert releases(run) == {"karpenter", "gpu-operator", "dynamo-platform"} | (
        {"aws-efa-k8s-device-plugin"} if mockrun_config(run)["serving"].get("path") == "pd-disaggregation" else set()
    )
    assert {r.name for r in run.of_type(CONFIG_FILE)} == {
        "gateway-crds-gateway-api",
        "gateway-crds-inference-extension",
    }, "the cluster-wide CRDs stay; nothing of this stack uses them"
    assert not run.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
    platform = run.release("dynamo-platform")
    assert platform.inputs["version"] == "1.0.0"
    assert platform.inputs["repositoryOpts"]["repo"] == "https://helm.ngc.nvidia.com/nvidia/ai-dynamo"
    assert platform.inputs["namespace"] == "dynamo-system" and platform.inputs["createNamespace"] is True
    graph = run.one(DGD)
    assert graph.inputs["metadata"]["namespace"] == run.outputs["namespace"] != "dynamo-system"
    assert platform.urn in run.waits_for(graph)


@pytest.mark.parametrize("name", dynamo_runs())
def test_dynamo_workers_follow_the_config(name: str) -> None:
    run = BY_NAME[name]
    config = mockrun_config(run)
    services = run.one(DGD).inputs["spec"]["services"]
    assert services["Frontend"]["componentType"] == "frontend"
    workers = {k: v for k, v in services.items() if v["componentType"] == "worker"}
    disaggregated = config["serving"].get("path") == "pd-disaggregation"
    expected = [("decode", config["model"])] if disaggregated else [(None, config["model"])]
    if disaggregated:
        expected.append(("prefill", config["serving"]["prefill"]))
    assert len(workers) == len(expected)
    for role, shape in expected:
        worker = next(w for w in workers.values() if w.get("subComponentType") == role)
        args = worker["extraPodSpec"]["mainContainer"]["args"]
        tp = str(shape["tensorParallelism"])
        assert worker["replicas"] == shape["replicas"]
        assert worker["resources"]["limits"]["gpu"] == tp
        assert args[args.index("--tensor-parallel-size") + 1] == tp
        assert args[args.index("--model") + 1] == config["model"]["name"]
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in worker["extraPodSpec"][
            "tolerations"
        ]
        if role:
            assert args[args.index("--disaggregation-mode") + 1] == role
            assert "NixlConnector" in args[args.index("--kv-transfer-config") + 1]
        else:
            assert "--disaggregation-mode" not in args


def test_dynamo_hf_token_and_efa_when_disaggregated_on_p5() -> None:
    run = BY_NAME["3-disaggregated"]
    workers = [w for w in run.one(DGD).inputs["spec"]["services"].values() if w["componentType"] == "worker"]
    for worker in workers:
        assert worker["envFromSecret"] == "llm-d-hf-token"
        assert worker["resources"]["limits"]["custom"]["vpc.amazonaws.com/efa"]
    secret = run.one("kubernetes:core/v1:Secret")
    assert secret.inputs["metadata"]["name"] == "llm-d-hf-token"
    assert any(p.startswith("stringData") for p in secret.secret_paths)
    assert secret.urn in run.waits_for(run.one(DGD))
    assert HF_TOKEN not in repr(run.outputs)
    assert "envFromSecret" not in json.dumps(BY_NAME["phase3"].one(DGD).inputs["spec"])


def test_dynamo_frontend_is_exposed_like_the_llm_d_gateway() -> None:
    nlb_run = BY_NAME["phase3"]
    service = nlb_run.one("kubernetes:core/v1:Service").inputs
    frontend = nlb_run.one(DGD).inputs["spec"]["services"]["Frontend"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerClass"] == "eks.amazonaws.com/nlb"
    assert service["metadata"]["annotations"] == {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}
    assert service["spec"]["selector"].items() <= frontend["extraPodMetadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"  # the operator's frontend container port
    out = nlb_run.outputs
    assert out["gatewayService"] == f"{out['namespace']}/{service['metadata']['name']}:80"
    assert f"svc/{service['metadata']['name']} 8080:80" in out["portForwardCommand"]
    assert (
        out["modelName"] in out["chatCompletionsCurl"]
        and "localhost:8080/v1/chat/completions" in out["chatCompletionsCurl"]
    )
    # cluster-ip: the Service the operator derives from the graph, "<graph>-<service key lower-cased>", port 8000.
    ip_run = BY_NAME["3-cluster-ip"]
    graph = ip_run.one(DGD).inputs["metadata"]["name"]
    assert not ip_run.of_type("kubernetes:core/v1:Service")
    assert ip_run.outputs["gatewayService"] == f"inference/{graph}-frontend:8000"


def test_switching_between_2a_and_3_hands_the_serving_namespace_over() -> None:
    """Each serving stack aliases the other's Namespace and Secret: a phase switch moves them,
    instead of creating the new one and then deleting the old one (and everything in it)."""
    config, _ = VARIANTS["3-disaggregated"]
    secrets = {"llmd-eks:hfToken": HF_TOKEN}
    in_3 = BY_NAME["3-disaggregated"]
    in_2a = run_program("3-disaggregated", {**config, "llmd-eks:phase": "2a"}, secrets)
    assert in_2a.outputs["phase"] == "2a" and "llm-d-modelservice" in releases(in_2a)
    for type_ in ("kubernetes:core/v1:Namespace", "kubernetes:core/v1:Secret"):
        dynamo_owned, llm_d_owned = in_3.one(type_), in_2a.one(type_)
        assert dynamo_owned.urn != llm_d_owned.urn
        assert llm_d_owned.urn in dynamo_owned.alias_urns()
        assert dynamo_owned.urn in llm_d_owned.alias_urns()
        assert dynamo_owned.inputs["metadata"]["name"] == llm_d_owned.inputs["metadata"]["name"]


def test_gateway_api_and_inference_extension_crds_stay_through_every_phase() -> None:
    """The CRDs are cluster-wide: deleting them deletes every Gateway, HTTPRoute and InferencePool
    in the cluster, this stack's or not. Same URNs (parents included) and manifests in every phase,
    so no phase switch touches them."""
    crds: dict[str, dict[str, str]] = {}
    for stack in ("prod", "phase15", "phase2a", "phase2b", "phase3"):
        name, config, secrets = _stack(ROOT / f"Pulumi.{stack}.yaml")
        run = BY_NAME.get(name) or run_program(name, config, secrets)
        # mockrun.urns leaves the stack out: the type chain in a URN names every parent.
        files = mockrun.urns(run, [CONFIG_FILE])
        crds[phase(run)] = {urn: run.one(CONFIG_FILE, name).inputs["file"] for (_, name), urn in files.items()}
    assert set(crds) == {"1", "1.5", "2a", "2b", "3"}
    assert len(crds["1"]) == 2
    assert all(files == crds["1"] for files in crds.values()), crds


def test_switching_between_2a_and_2b_moves_the_node_add_ons() -> None:
    """EKS has one add-on of a name per cluster: 2a (Karpenter) and 2b (managed node group)
    alias each other's vpc-cni, kube-proxy and coredns instead of creating a second one."""
    _, config, _ = _stack(ROOT / "Pulumi.phase2b.yaml")
    in_2b = run_program("switch", config)
    as_2a = {
        **config,
        "llmd-eks:phase": "2a",
        "llmd-eks:gpu": {"instanceFamilies": ["p5"], "maxGpus": 16},
        "llmd-eks:serving": {"path": "inference-scheduling"},
    }
    in_2a = run_program("switch", as_2a)
    addons_2a = {r.inputs["addonName"]: r for r in in_2a.of_type("aws:eks/addon:Addon")}
    addons_2b = {r.inputs["addonName"]: r for r in in_2b.of_type("aws:eks/addon:Addon")}
    for name in ("vpc-cni", "kube-proxy", "coredns"):
        assert addons_2a[name].urn in addons_2b[name].alias_urns()
        assert addons_2b[name].urn in addons_2a[name].alias_urns()


def test_pd_on_dra_capacity_leaves_gpus_to_the_resource_claims() -> None:
    _, config, _ = _stack(ROOT / "Pulumi.phase2b.yaml")
    config = {
        **config,
        "llmd-eks:gpu": {**config["llmd-eks:gpu"], "maxGpus": 16},
        "llmd-eks:model": {**config["llmd-eks:model"], "replicas": 4},
        "llmd-eks:serving": {"path": "pd-disaggregation", "prefill": {"replicas": 4, "tensorParallelism": 2}},
    }
    run = run_program("pd-dra", config)
    ms = values(run.release("llm-d-modelservice"))
    assert ms["accelerator"]["dra"] is True
    for role in ("decode", "prefill"):
        container = ms[role]["containers"][0]
        assert "nvidia.com/gpu" not in json.dumps(container.get("resources", {}))
        assert ms[role]["parallelism"]["tensor"] == 2
    contracts.require_reference()
    chart = SHARED_CHARTS["llm-d-modelservice"]
    assert contracts.validate_helm_values(chart, _without_pod_extra(ms), LIST_ITEM_KEYS.get(chart)) == []


def test_pd_with_observability_monitors_prefill_and_decode() -> None:
    run = run_program("pd-obs", _with(PHASE2A, observability={"enabled": True}))
    ms = values(run.release("llm-d-modelservice"))
    for role in ("decode", "prefill"):
        assert ms[role]["monitoring"]["podmonitor"]["enabled"] is True


# --- contracts: what the program emits against the reference data ---------------------------------


def test_custom_resources_validate_against_their_crds(recording: Recording) -> None:
    contracts.require_reference()
    known = contracts.known_crd_kinds()
    kinds = set()
    for reg in recording.custom_resources():
        if reg.inputs["apiVersion"] in ("v1", "policy/v1", "apps/v1"):
            continue  # built-in kinds (Namespace, Secret, Service; PodDisruptionBudget; Deployment patches): no CRD
        obj = cr_object(reg)
        kind = (obj["apiVersion"], obj["kind"])
        if kind in known:
            assert contracts.validate_custom_resource(obj) == [], f"{reg.type} {reg.name}"
        else:
            assert kind in EXTRA_SCHEMAS, f"{reg.type} {reg.name}: no reference schema"
            assert extra_reference.validate_schema(*EXTRA_SCHEMAS[kind], obj) == [], f"{reg.type} {reg.name}"
        kinds.add(kind)
    assert {("karpenter.k8s.aws/v1", "EC2NodeClass"), ("karpenter.sh/v1", "NodePool")} <= kinds
    if phase(recording) == "3":
        assert ("nvidia.com/v1alpha1", "DynamoGraphDeployment") in kinds


# Pod-level keys llm-d-modelservice v0.4.9 reads through its `modelPod` helper as
# `.pdSpec.extraConfig` (templates/_helpers.tpl; README: "decode.extraConfig | Extra pod
# configuration | dict"): read through an alias, so used-values.txt cannot list them. It is
# rendered into the pod spec; the program puts only the zone affinity there.
MODELSERVICE_POD_EXTRA = {"extraConfig": {"affinity"}}


def _without_pod_extra(vals: dict[str, Any]) -> dict[str, Any]:
    vals = json.loads(json.dumps(vals))
    for role in ("decode", "prefill"):
        for key, allowed in MODELSERVICE_POD_EXTRA.items():
            extra = vals.get(role, {}).pop(key, {})
            assert set(extra) <= allowed, f"{role}.{key}: {set(extra) - allowed}"
    return vals


def test_helm_values_are_valid_and_known(recording: Recording) -> None:
    contracts.require_reference()
    for reg in recording.helm_releases():
        name, vals = reg.inputs["name"], values(reg)
        if name == "llm-d-modelservice":
            vals = _without_pod_extra(vals)
        if name in SHARED_CHARTS:
            chart = SHARED_CHARTS[name]
            assert contracts.validate_helm_values(chart, vals, LIST_ITEM_KEYS.get(chart)) == [], name
        elif name in EXTRA_CHARTS:
            assert extra_reference.unknown_values_keys(EXTRA_CHARTS[name], vals) == [], name
        else:
            assert name in ISTIO, f"release {name} has no reference data"


def test_contract_checks_catch_typos_in_what_phase_3_and_2a_emit() -> None:
    contracts.require_reference()
    graph = cr_object(BY_NAME["3-disaggregated"].one(DGD))
    graph["spec"]["services"]["VllmDecodeWorker"]["replica"] = 2
    errors = extra_reference.validate_schema(*EXTRA_SCHEMAS[("nvidia.com/v1alpha1", "DynamoGraphDeployment")], graph)
    assert any("'replica' was unexpected" in e for e in errors)
    platform = values(BY_NAME["phase3"].release("dynamo-platform"))
    platform["nats"]["config"]["jetstream"]["fileStore"]["pvc"]["enable"] = False
    assert extra_reference.unknown_values_keys("dynamo-platform-1.0.0", platform) == [
        "dynamo-platform-1.0.0: unknown values key 'nats.config.jetstream.fileStore.pvc.enable'"
    ]
    assert extra_reference.unknown_values_keys("aws-efa-k8s-device-plugin-v0.5.30", {"toleration": []}) == [
        "aws-efa-k8s-device-plugin-v0.5.30: unknown values key 'toleration'"
    ]
    node_class = cr_object(BY_NAME["phase2a"].one(EC2NODECLASS))
    node_class["spec"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] = "500GiB"
    assert any("volumeSize" in e for e in contracts.validate_custom_resource(node_class))
    ms = values(BY_NAME["phase2a"].release("llm-d-modelservice"))
    ms["routing"]["proxy"]["targetPort"] = "8200"
    assert contracts.validate_helm_values("llm-d-modelservice-v0.4.9", ms) != []


def test_epp_config_is_plain_yaml_without_anchors() -> None:
    text = pd.epp_values()["pluginsCustomConfig"][pd.EPP_CONFIG_FILE]
    assert "&id" not in text and "*id" not in text
