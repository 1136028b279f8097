"""The program under mocks: the graph ARCHITECTURE §2 describes, asserted from registrations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components import mockrun
from components.mockrun import Recording
from components.plan.names import modelservice_fullname
from tests.conftest import (
    HF_TOKEN,
    K8S_PROVIDER,
    STACK_FILES,
    base_config,
    cluster_and_vpc_urns,
    run_program,
    stack_config,
    values,
)

RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"

VARIANTS: dict[str, dict[str, Any]] = {
    "p4d-tp4": {"gpu": {"instanceFamilies": ["p4d"], "maxGpus": 8}, "model": {"tensorParallelism": 4, "replicas": 2}},
    "p5-spot": {"gpu": {"instanceFamilies": ["p5", "p5e"], "capacityTypes": ["spot", "on-demand"], "maxGpus": 8}},
    "internal-nlb": {"serving": {"exposure": "internal-nlb"}},
    "internet-nlb": {"serving": {"exposure": "internet-nlb", "namespace": "inference"}},
    "existing-vpc": {
        "cluster": {
            "existingVpc": {
                "vpcId": "vpc-0abc",
                "privateSubnetIds": ["subnet-01", "subnet-02", "subnet-03"],
                "publicSubnetIds": ["subnet-04"],
            }
        }
    },
    "extra-args": {
        "model": {
            "name": "Qwen/Qwen3-8B",
            "tensorParallelism": 1,
            "extraArgs": ["--enable-prefix-caching"],
            "replicas": 1,
        }
    },
    "simulated": {"model": {"name": "Qwen/Qwen3-8B", "simulate": True, "replicas": 3}},
    "existing-gpu": {"cluster": {"mode": "existing", "kubeconfigContext": "gpu-cluster"}},
    "existing-simulated": {
        "cluster": {"mode": "existing"},
        "model": {"name": "Qwen/Qwen3-8B", "simulate": True, "replicas": 3},
    },
}


# Phases 2a and 3 (Karpenter capacity; Dynamo instead of llm-d in 3) have their
# own graph tests, tests/test_phases_2a_3.py, which run their stack files.
SEPARATELY_TESTED_PHASES = {"2a", "3"}


def committed_stacks() -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    stacks = [stack_config(path) for path in STACK_FILES]
    return [stack for stack in stacks if stack[1].get("llmd-eks:phase", "1") not in SEPARATELY_TESTED_PHASES]


CONFIGS: dict[str, dict[str, Any]] = {}  # run name -> its configuration


def all_runs() -> list[tuple[str, Recording]]:
    runs = []
    for stack, config, secrets in committed_stacks():
        CONFIGS[stack] = config
        runs.append((stack, run_program(stack, config, secrets)))
    base = base_config()
    for variant, overrides in VARIANTS.items():
        config = {**base, **mockrun.namespaced(overrides)}
        CONFIGS[variant] = config
        secrets = (
            {"llmd-eks:hfToken": HF_TOKEN}
            if variant in {"internal-nlb", "existing-vpc", "simulated", "existing-simulated"}
            else {}
        )
        runs.append((variant, run_program(variant, config, secrets)))
    return runs


RUNS = all_runs()
IDS = [name for name, _ in RUNS]


def on_eks(name: str) -> bool:
    """The run creates its EKS Auto Mode cluster (cluster.mode eks-auto, the default)."""
    return CONFIGS[name].get("llmd-eks:cluster", {}).get("mode", "eks-auto") == "eks-auto"


def simulated(name: str) -> bool:
    return bool(CONFIGS[name].get("llmd-eks:model", {}).get("simulate", False))


def dra_node_group(name: str) -> bool:
    """Phase 2b: GPUs from the DRA managed node group, no Auto Mode GPU NodePool (tests/test_dra.py)."""
    return CONFIGS[name].get("llmd-eks:phase") == "2b"


def _runs(keep: Callable[[str], bool]) -> dict[str, Any]:
    chosen = [(name, rec) for name, rec in RUNS if keep(name)]
    return {"params": [rec for _, rec in chosen], "ids": [name for name, _ in chosen]}


@pytest.fixture(params=RUNS, ids=IDS)
def recording(request: pytest.FixtureRequest) -> Recording:
    return request.param[1]


@pytest.fixture(**_runs(on_eks))
def eks_recording(request: pytest.FixtureRequest) -> Recording:
    return request.param


@pytest.fixture(**_runs(lambda name: not simulated(name)))
def vllm_recording(request: pytest.FixtureRequest) -> Recording:
    return request.param


@pytest.fixture(**_runs(lambda name: on_eks(name) and not simulated(name) and not dra_node_group(name)))
def gpu_pool_recording(request: pytest.FixtureRequest) -> Recording:
    return request.param


def test_every_committed_stack_runs() -> None:
    assert {"dev", "prod", "sim", "local"} <= {name for name, _ in RUNS}


def test_one_auto_mode_cluster(eks_recording: Recording) -> None:
    recording = eks_recording
    cluster = recording.one("eks:index:Cluster")
    auto = cluster.inputs["autoMode"]
    assert auto["enabled"] is True
    assert sorted(auto["computeConfig"]["nodePools"]) == ["general-purpose", "system"]
    assert cluster.inputs["authenticationMode"] == "API"
    assert cluster.inputs["version"] == "1.34"
    assert cluster.inputs["name"] == recording.outputs["clusterName"]
    assert recording.one(K8S_PROVIDER).inputs["kubeconfig"], "provider built from the cluster's kubeconfig"


def _crd_files(recording: Recording) -> dict[str, str]:
    files = recording.of_type(CONFIG_FILE)
    return {("gaie" if "inference-extension" in r.inputs["file"] else "gateway-api"): r.urn for r in files}


def test_crds_come_from_pinned_release_manifests(recording: Recording) -> None:
    files = sorted(r.inputs["file"] for r in recording.of_type(CONFIG_FILE))
    assert files == [
        "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/v1.4.0/manifests.yaml",
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml",
    ]


def test_ordering_edges_are_on_the_resources_themselves(recording: Recording) -> None:
    crds = _crd_files(recording)
    base = recording.release("istio-base")
    istiod = recording.release("istiod")
    infra = recording.release("llm-d-infra")
    pool = recording.release("llm-d-inferencepool")
    route = recording.one(HTTPROUTE)
    assert base.urn in recording.waits_for(istiod)
    assert {crds["gateway-api"], crds["gaie"]} <= recording.waits_for(istiod)
    assert {istiod.urn, crds["gateway-api"]} <= recording.waits_for(infra)
    assert {istiod.urn, crds["gaie"]} <= recording.waits_for(pool)
    assert {crds["gateway-api"], crds["gaie"], infra.urn, pool.urn} <= recording.waits_for(route)


def test_gpu_capacity_comes_before_the_model_servers(gpu_pool_recording: Recording) -> None:
    recording = gpu_pool_recording
    nodepool = recording.one("kubernetes:karpenter.sh/v1:NodePool")
    nodeclass = recording.one("kubernetes:eks.amazonaws.com/v1:NodeClass")
    association = recording.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert nodeclass.urn in recording.waits_for(nodepool)
    assert association.urn in recording.waits_for(nodeclass)
    assert nodepool.urn in recording.waits_for(recording.release("llm-d-modelservice"))


# Releases a phase adds to the foundation's (tests/test_gpu_operator.py and tests/test_dra.py check them).
PHASE_RELEASES = {"1": set(), "1.5": {"gpu-operator"}, "2b": {"nvidia-dra-driver-gpu", "cluster-autoscaler"}}


@pytest.mark.parametrize(("name", "recording"), RUNS, ids=IDS)
def test_helm_releases_are_pinned_and_named(name: str, recording: Recording) -> None:
    releases = recording.helm_releases()
    monitoring = {"kube-prometheus-stack"} if "grafana" in recording.outputs else set()
    platform = PHASE_RELEASES[recording.outputs["phase"]] if on_eks(name) and not simulated(name) else set()
    assert {r.inputs["name"] for r in releases} == {
        "istio-base",
        "istiod",
        "llm-d-infra",
        "llm-d-inferencepool",
        "llm-d-modelservice",
        *monitoring,
        *platform,
    }
    for reg in releases:
        assert reg.inputs["version"], f"{reg.name} is not pinned"
    assert recording.release("llm-d-infra").inputs["version"] == "v1.4.0"
    assert recording.release("llm-d-inferencepool").inputs["version"] == "v1.4.0"
    assert recording.release("llm-d-modelservice").inputs["version"] == "v0.4.9"
    assert recording.release("istiod").inputs["version"] == "1.29.1"
    istiod_env = values(recording.release("istiod"))["env"]  # istio-discovery 1.29 reads .Values.env
    assert istiod_env["ENABLE_GATEWAY_API_INFERENCE_EXTENSION"] == "true"


def test_httproute_targets_what_the_releases_create(recording: Recording) -> None:
    infra = recording.release("llm-d-infra")
    pool = recording.release("llm-d-inferencepool")
    route = recording.one(HTTPROUTE)
    spec = route.inputs["spec"]
    # llm-d-infra names its Gateway "<release>-inference-gateway"; the
    # inferencepool chart names the InferencePool after its release.
    assert spec["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": f"{infra.inputs['name']}-inference-gateway"}
    ]
    backend = spec["rules"][0]["backendRefs"][0]
    assert (backend["group"], backend["kind"], backend["name"]) == (
        "inference.networking.k8s.io",
        "InferencePool",
        pool.inputs["name"],
    )
    assert backend["port"] == values(pool)["inferencePool"]["targetPorts"][0]["number"]
    assert route.inputs["metadata"]["namespace"] == infra.inputs["namespace"] == pool.inputs["namespace"]


def test_inference_pool_selects_exactly_the_model_pods(recording: Recording) -> None:
    ms = values(recording.release("llm-d-modelservice"))
    pool = values(recording.release("llm-d-inferencepool"))
    selector = pool["inferencePool"]["modelServers"]["matchLabels"]
    # The modelservice chart labels decode pods modelArtifacts.labels + llm-d.ai/role.
    decode_pod_labels = {**ms["modelArtifacts"]["labels"], "llm-d.ai/role": "decode"}
    assert selector.items() <= decode_pod_labels.items()
    assert selector == ms["modelArtifacts"]["labels"]
    assert "llm-d.ai/model" in selector, "the selector must not match other models' pods"


def test_model_servers_follow_the_model_config(vllm_recording: Recording) -> None:
    recording = vllm_recording
    ms = values(recording.release("llm-d-modelservice"))
    model = ms["modelArtifacts"]["name"]
    decode = ms["decode"]
    tp = decode["parallelism"]["tensor"]
    container = decode["containers"][0]
    assert ms["modelArtifacts"]["uri"] == f"hf://{model}"
    if ms.get("accelerator", {}).get("dra"):  # GPUs through the chart's ResourceClaimTemplate
        assert "nvidia.com/gpu" not in repr(container["resources"])
    else:
        assert container["resources"]["limits"]["nvidia.com/gpu"] == str(tp)
    assert "--max-model-len" in container["args"] and "--gpu-memory-utilization" in container["args"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in decode["tolerations"]
    assert ms["routing"]["proxy"]["enabled"] is False
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 20 * 60, "a 65 GB download takes 10-20 min"
    assert recording.outputs["modelName"] == model


def test_gpu_nodepool_follows_the_design(gpu_pool_recording: Recording) -> None:
    recording = gpu_pool_recording
    spec = recording.one("kubernetes:karpenter.sh/v1:NodePool").inputs["spec"]
    requirements = {r["key"]: r for r in spec["template"]["spec"]["requirements"]}
    assert "eks.amazonaws.com/instance-family" in requirements
    assert "eks.amazonaws.com/instance-category" not in requirements
    assert requirements["kubernetes.io/arch"]["values"] == ["amd64"]
    assert "karpenter.sh/capacity-type" in requirements
    assert {"key": "nvidia.com/gpu", "effect": "NoSchedule"} in spec["template"]["spec"]["taints"]
    assert set(spec["limits"]) >= {"nvidia.com/gpu"}
    assert spec["disruption"]["consolidationPolicy"] == "WhenEmpty"
    nodeclass = recording.one("kubernetes:eks.amazonaws.com/v1:NodeClass").inputs
    assert spec["template"]["spec"]["nodeClassRef"] == {
        "group": "eks.amazonaws.com",
        "kind": "NodeClass",
        "name": nodeclass["metadata"]["name"],
    }
    entry = recording.one("aws:eks/accessEntry:AccessEntry").inputs
    association = recording.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation").inputs
    assert entry["type"] == "EC2"
    assert association["policyArn"].endswith("/AmazonEKSAutoNodePolicy")


def test_hf_token_only_in_a_secret_marked_secret(recording: Recording) -> None:
    holders = [r for r in recording.resources if HF_TOKEN in repr(dict(r.inputs))]
    assert HF_TOKEN not in repr(recording.outputs)
    if not holders:
        assert not recording.of_type("kubernetes:core/v1:Secret")
        return
    assert [r.type for r in holders] == ["kubernetes:core/v1:Secret"]
    secret = holders[0]
    assert secret.inputs["metadata"]["name"] == "llm-d-hf-token"
    assert secret.inputs["stringData"]["HF_TOKEN"] == HF_TOKEN
    assert any(path.startswith("stringData") for path in secret.secret_paths)
    ms = values(recording.release("llm-d-modelservice"))
    assert ms["modelArtifacts"]["authSecretName"] == "llm-d-hf-token"


@pytest.mark.parametrize(("name", "recording"), RUNS, ids=IDS)
def test_outputs(name: str, recording: Recording) -> None:
    out = recording.outputs
    assert {
        "clusterName",
        "phase",
        "namespace",
        "modelName",
        "gatewayService",
        "portForwardCommand",
        "chatCompletionsCurl",
        "versions",
    } <= out.keys()
    if on_eks(name):
        assert {"kubeconfig", "region"} <= out.keys() and "kubeconfig" in recording.secret_outputs
    else:
        assert "kubeconfig" not in out and "region" not in out
        assert out["kubeconfigContext"] == CONFIGS[name]["llmd-eks:cluster"].get("kubeconfigContext", "")
    infra = recording.release("llm-d-infra")
    service = f"{infra.inputs['name']}-inference-gateway-istio"
    assert out["gatewayService"] == f"{out['namespace']}/{service}:80"
    assert f"svc/{service}" in out["portForwardCommand"]
    assert out["modelName"] in out["chatCompletionsCurl"]
    assert out["versions"]["llmDModelservice"] == "v0.4.9"


def test_decode_deployment_name_is_derived_like_the_chart() -> None:
    assert modelservice_fullname("llm-d-modelservice") == "llm-d-modelservice"
    assert modelservice_fullname("ms") == "ms-llm-d-modelservice"
    assert len(modelservice_fullname("x" * 80)) == 55


def _run(name: str) -> Recording:
    return dict(RUNS)[name]


def test_exposure_cluster_ip_and_nlbs() -> None:
    assert values(_run("dev").release("llm-d-infra"))["gateway"]["service"] == {"type": "ClusterIP"}
    for variant, scheme in (("internal-nlb", "internal"), ("internet-nlb", "internet-facing")):
        gateway = values(_run(variant).release("llm-d-infra"))["gateway"]
        assert gateway["service"] == {"type": "LoadBalancer", "loadBalancerClass": "eks.amazonaws.com/nlb"}
        assert gateway["annotations"] == {"service.beta.kubernetes.io/aws-load-balancer-scheme": scheme}


def test_new_vpc_has_three_azs_with_elb_tags() -> None:
    subnets = _run("dev").of_type("aws:ec2/subnet:Subnet")
    public = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/elb") == "1"]
    private = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    assert len(public) == len(private) == 3
    assert len({s.inputs["availabilityZone"] for s in private}) == 3


def test_new_vpc_uses_availability_zones_proper() -> None:
    [args] = [a for token, a in _run("dev").invokes if token.endswith("getAvailabilityZones")]
    assert args["state"] == "available"
    assert {"name": "opt-in-status", "values": ["opt-in-not-required"]} in args["filters"]


def test_cluster_gets_private_subnets_only() -> None:
    cluster = _run("dev").one("eks:index:Cluster").inputs
    assert cluster["privateSubnetIds"] and "publicSubnetIds" not in cluster


def test_existing_vpc_creates_no_network() -> None:
    rec = _run("existing-vpc")
    assert not [r for r in rec.resources if r.type.startswith("aws:ec2/")]
    cluster = rec.one("eks:index:Cluster").inputs
    assert cluster["vpcId"] == "vpc-0abc"
    assert cluster["privateSubnetIds"] == ["subnet-01", "subnet-02", "subnet-03"]


def test_prod_protects_cluster_and_vpc() -> None:
    prod = _run("prod")
    assert prod.one("eks:index:Cluster").protect
    assert prod.one("aws:ec2/vpc:Vpc").protect
    assert not _run("dev").one("eks:index:Cluster").protect


def test_prod_is_the_seed_default_deployment() -> None:
    ms = values(_run("prod").release("llm-d-modelservice"))
    container = ms["decode"]["containers"][0]
    assert ms["modelArtifacts"]["name"] == "Qwen/Qwen3-32B"
    assert (ms["decode"]["replicas"], ms["decode"]["parallelism"]["tensor"]) == (8, 2)
    assert container["args"][:4] == ["--max-model-len", "32768", "--gpu-memory-utilization", "0.9"]
    limits = _run("prod").one("kubernetes:karpenter.sh/v1:NodePool").inputs["spec"]["limits"]
    assert limits == {"nvidia.com/gpu": "16", "cpu": "384", "memory": "4096Gi"}


def test_changing_serving_settings_keeps_cluster_and_vpc_urns() -> None:
    base = cluster_and_vpc_urns(_run("dev"))
    for variant in ("p4d-tp4", "internet-nlb", "extra-args"):
        assert cluster_and_vpc_urns(_run(variant)) == base
