"""The llm-d path without GPUs: simulated model servers (model.simulate) and
existing clusters (cluster.mode: existing), asserted from the recorded graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components import mockrun, versions
from components.config import ConfigError, Settings, resolve
from components.mockrun import Recording
from components.plan import guardrails, simulator
from components.plan.guardrails import Scope, Severity
from tests import contracts, extra_reference
from tests.conftest import K8S_PROVIDER, base_config, cluster_and_vpc_urns
from tests.test_program import CONFIGS, RUNS, on_eks, simulated

NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
MODELSERVICE_CHART = "llm-d-modelservice-v0.4.9"
SIM_FLAGS = ("llm-d-inference-sim-v0.8.1", "flags.txt")  # tests/reference_extra (see its PROVENANCE)
RUN = dict(RUNS)


def _names(keep: Callable[[str], bool]) -> list[str]:
    names = [name for name, _ in RUNS if keep(name)]
    assert names, "no run of this kind: the tests below would check nothing"
    return names


SIMULATED = _names(simulated)
VLLM = _names(lambda name: not simulated(name))
EXISTING = _names(lambda name: not on_eks(name))
EKS = _names(on_eks)


def release_values(recording: Recording, release: str) -> dict[str, Any]:
    return dict(recording.release(release).inputs["values"])


def decode(recording: Recording) -> dict[str, Any]:
    return release_values(recording, "llm-d-modelservice")["decode"]


def model_config(name: str) -> dict[str, Any]:
    return CONFIGS[name].get("llmd-eks:model", {})


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def settings_of(raw: dict[str, Any]) -> Settings:
    return resolve(raw, "s", region="us-west-2")


# --- simulated model servers --------------------------------------------------------------


@pytest.mark.parametrize("name", SIMULATED)
def test_simulated_stacks_create_no_gpu_capacity_and_request_no_gpus(name: str) -> None:
    recording = RUN[name]
    assert not recording.of_type(NODEPOOL)
    assert not recording.of_type("kubernetes:eks.amazonaws.com/v1:NodeClass")
    assert not recording.of_type("llmd:gpu:GpuNodePool")
    for reg in recording.resources:
        assert "nvidia.com/gpu" not in repr(dict(reg.inputs)), f"{reg.type} {reg.name} mentions GPUs"
    assert "tolerations" not in decode(recording)


@pytest.mark.parametrize("name", VLLM)
def test_real_model_servers_still_request_gpus(name: str) -> None:
    container = decode(RUN[name])["containers"][0]
    assert container["image"] == versions.PROFILES["v0.6"].vllm_image.ref
    accelerator = release_values(RUN[name], "llm-d-modelservice").get("accelerator", {})
    if accelerator.get("dra"):  # phase 2b: one ResourceClaim per pod instead (tests/test_dra.py)
        assert accelerator["resourceClaimTemplates"]["nvidia"]["class"] == "gpu.nvidia.com"
    else:
        assert "nvidia.com/gpu" in container["resources"]["limits"]


@pytest.mark.parametrize("name", SIMULATED)
def test_simulator_serves_the_configured_model_name(name: str) -> None:
    recording = RUN[name]
    model = model_config(name)
    ms = release_values(recording, "llm-d-modelservice")
    container = ms["decode"]["containers"][0]
    profile = versions.PROFILES["v0.6"]
    assert container["image"] == profile.simulator_image.ref == "ghcr.io/llm-d/llm-d-inference-sim:v0.8.1"
    # "custom": the chart runs exactly this command and these args, adding no vLLM flag.
    assert (container["modelCommand"], container["command"]) == ("custom", ["/app/llm-d-inference-sim"])
    args = container["args"]
    assert flag(args, "--served-model-name") == model["name"] == ms["modelArtifacts"]["name"]
    assert flag(args, "--served-model-name") == recording.outputs["modelName"]
    assert f'"model": "{model["name"]}"' in recording.outputs["chatCompletionsCurl"]
    assert flag(args, "--model") == simulator.OFFLINE_MODEL_ID
    assert flag(args, "--port") == str(ms["routing"]["servicePort"])
    assert decode(recording)["replicas"] == model["replicas"]
    assert "mountModelVolume" not in container and "volumes" not in ms["decode"], "no weights to store"


@pytest.mark.parametrize("name", SIMULATED)
def test_simulator_latencies_follow_the_config(name: str) -> None:
    latency = {"timeToFirstTokenMs": 200, "interTokenLatencyMs": 20, **model_config(name).get("simulator", {})}
    args = decode(RUN[name])["containers"][0]["args"]
    assert flag(args, "--time-to-first-token") == f"{latency['timeToFirstTokenMs']}ms"
    assert flag(args, "--inter-token-latency") == f"{latency['interTokenLatencyMs']}ms"


def test_latency_settings_reach_the_simulator(run: Callable[..., Recording]) -> None:
    slow = {"simulate": True, "simulator": {"timeToFirstTokenMs": 1500, "interTokenLatencyMs": 0}}
    args = decode(run(model=slow))["containers"][0]["args"]
    assert (flag(args, "--time-to-first-token"), flag(args, "--inter-token-latency")) == ("1500ms", "0ms")


@pytest.mark.parametrize("name", SIMULATED)
def test_simulator_gets_only_flags_it_knows(name: str) -> None:
    # The simulator exits on an unknown flag (pflag.ContinueOnError), e.g. vLLM's --gpu-memory-utilization.
    known = set(extra_reference.lines(*SIM_FLAGS))
    args = decode(RUN[name])["containers"][0]["args"]
    assert {arg.removeprefix("--") for arg in args if arg.startswith("--")} <= known


def test_simulator_does_not_get_vllm_extra_args(run: Callable[..., Recording]) -> None:
    recording = run(model={"simulate": True, "extraArgs": ["--kv-cache-dtype", "fp8"]})
    assert "--kv-cache-dtype" not in decode(recording)["containers"][0]["args"]
    assert any("[GR-SIM-EXTRA-ARGS]" in warning for warning in recording.warnings)


def chart_accelerator_resource(ms_values: dict[str, Any], role: str) -> str:
    """The resource name llm-d-modelservice v0.4.9 adds to a role's first container
    (``acceleratorResource`` in templates/_helpers.tpl, ``acceleratorType`` in
    templates/_helpers-dra.tpl): "" for the simulator's image or accelerator type cpu."""
    merged = contracts.deep_merge(contracts.chart_defaults(MODELSERVICE_CHART), ms_values)
    container = merged[role]["containers"][0]
    role_accelerator = merged[role].get("accelerator") or {}
    kind = role_accelerator["type"] if "type" in role_accelerator else merged["accelerator"]["type"] or "nvidia"
    if "llm-d-inference-sim" in container.get("image", "") or kind == "cpu":
        return ""
    return merged["accelerator"]["resources"].get(kind, "nvidia.com/gpu")


@pytest.mark.parametrize("name", [*SIMULATED, *VLLM])
def test_what_the_chart_adds_to_the_model_servers(name: str) -> None:
    contracts.require_reference()
    ms = release_values(RUN[name], "llm-d-modelservice")
    expected = "" if simulated(name) else "nvidia.com/gpu"
    assert chart_accelerator_resource(ms, "decode") == expected


def test_simulated_values_say_cpu_outright() -> None:
    """Not only the image-name heuristic: from a mirror registry under another name,
    the simulator still gets no GPU because the values say accelerator type cpu."""
    contracts.require_reference()
    ms = release_values(RUN["sim"], "llm-d-modelservice")
    assert ms["decode"]["accelerator"] == {"type": "cpu"}
    mirrored = {**ms["decode"]["containers"][0], "image": "registry.example.com/mirror/vllm-simulator:v0.8.1"}
    assert chart_accelerator_resource({**ms, "decode": {**ms["decode"], "containers": [mirrored]}}, "decode") == ""
    without_type = {key: value for key, value in ms["decode"].items() if key != "accelerator"}
    assert chart_accelerator_resource({**ms, "decode": {**without_type, "containers": [mirrored]}}, "decode") == (
        "nvidia.com/gpu"
    ), "the check above would pass without accelerator.type"


@pytest.mark.parametrize("name", SIMULATED)
def test_simulators_are_placed_on_general_purpose_nodes(name: str) -> None:
    recording = RUN[name]
    selector = decode(recording).get("nodeSelector")
    if on_eks(name):
        assert selector == {"karpenter.sh/nodepool": "general-purpose"}
        pools = recording.one("eks:index:Cluster").inputs["autoMode"]["computeConfig"]["nodePools"]
        assert "general-purpose" in pools
    else:
        assert selector is None, "on an existing cluster placement is the cluster's business"


@pytest.mark.parametrize("name", SIMULATED)
def test_simulated_stacks_are_small(name: str) -> None:
    recording = RUN[name]
    epp = release_values(recording, "llm-d-inferencepool")["inferenceExtension"]
    assert epp["resources"] == simulator.EPP_RESOURCES
    assert recording.release("llm-d-modelservice").inputs["timeout"] == simulator.READY_TIMEOUT_S
    container = decode(recording)["containers"][0]
    assert container["resources"] == simulator.RESOURCES


@pytest.mark.parametrize("name", VLLM)
def test_gpu_stacks_keep_the_chart_sized_endpoint_picker(name: str) -> None:
    assert "resources" not in release_values(RUN[name], "llm-d-inferencepool")["inferenceExtension"]
    assert RUN[name].release("llm-d-modelservice").inputs["timeout"] == 45 * 60


@pytest.mark.parametrize(("name", "image"), [("sim", "simulator"), ("dev", "vllm")])
def test_versions_output_names_the_model_server_deployed(name: str, image: str) -> None:
    deployed = RUN[name].outputs["versions"]
    other = {"simulator": "vllm", "vllm": "simulator"}[image]
    assert image in deployed and other not in deployed


@pytest.mark.parametrize("profile", versions.PROFILES.values(), ids=versions.PROFILES.keys())
def test_simulator_emits_the_kv_cache_metric_the_endpoint_picker_reads(profile: versions.VersionProfile) -> None:
    assert profile.simulator_image.kv_cache_metric == profile.epp_kv_cache_metric == "vllm:kv_cache_usage_perc"


# --- existing clusters --------------------------------------------------------------------


@pytest.mark.parametrize("name", EXISTING)
def test_existing_cluster_creates_nothing_in_aws(name: str) -> None:
    types = {reg.type for reg in RUN[name].resources}
    aws = {
        t for t in types if t.split(":")[0] in {"aws", "eks"} or t in {"pulumi:providers:aws", "pulumi:providers:eks"}
    }
    assert not aws
    assert "llmd:cluster:AutoModeCluster" not in types
    assert "llmd:cluster:ExistingCluster" in types


@pytest.mark.parametrize("name", EXISTING)
def test_existing_cluster_provider_targets_the_context(name: str) -> None:
    recording = RUN[name]
    context = CONFIGS[name]["llmd-eks:cluster"].get("kubeconfigContext", "")
    provider = recording.one(K8S_PROVIDER)
    assert recording.by_urn(provider.parent).type == "llmd:cluster:ExistingCluster"
    assert provider.inputs.get("context") == (context or None), "empty: the kubeconfig's current context"
    assert "kubeconfig" not in provider.inputs, "the local kubeconfig ($KUBECONFIG or ~/.kube/config)"
    k8s = [reg for reg in recording.resources if reg.type.startswith("kubernetes:")]
    assert k8s and all(reg.provider_urn == provider.urn for reg in k8s)


def test_local_stack_is_the_kind_cluster() -> None:
    out = RUN["local"].outputs
    assert (out["clusterName"], out["kubeconfigContext"]) == ("kind-llmd", "kind-llmd")
    assert out["portForwardCommand"].startswith("kubectl --context kind-llmd port-forward -n llm-d svc/")
    assert release_values(RUN["local"], "llm-d-infra")["gateway"]["service"] == {"type": "ClusterIP"}


def test_existing_cluster_on_the_current_context() -> None:
    out = RUN["existing-simulated"].outputs
    assert (out["clusterName"], out["kubeconfigContext"]) == ("existing", "")
    assert out["portForwardCommand"].startswith("kubectl port-forward ")


def test_kubernetes_side_is_the_same_on_an_existing_cluster() -> None:
    def kubernetes_side(recording: Recording) -> set[tuple[str, str]]:
        return {(reg.type, reg.name) for reg in recording.resources if reg.type.startswith("kubernetes:")}

    assert kubernetes_side(RUN["existing-simulated"]) == kubernetes_side(RUN["simulated"])
    assert kubernetes_side(RUN["existing-gpu"]) == kubernetes_side(RUN["dev"]) - {
        (NODEPOOL, "gpu-nodepool"),
        ("kubernetes:eks.amazonaws.com/v1:NodeClass", "gpu-nodeclass"),
    }


def test_gpus_on_an_existing_cluster_are_the_clusters_business() -> None:
    recording = RUN["existing-gpu"]
    assert not recording.of_type(NODEPOOL)
    assert any("[GR-EXISTING-GPU-CAPACITY]" in warning for warning in recording.warnings)
    servers = decode(recording)
    assert "nodeSelector" not in servers, "no GPU NodePool of ours to select"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in servers["tolerations"]


@pytest.mark.parametrize("name", ["sim", "local"])
def test_committed_stacks_without_gpus_are_clean(name: str) -> None:
    assert RUN[name].warnings == []


# --- cluster URNs across simulate on and off ----------------------------------------------


def test_turning_simulate_on_and_off_keeps_the_cluster(run: Callable[..., Recording]) -> None:
    model = dict(base_config()["llmd-eks:model"])
    gpus = run(stack="toggle", model={**model, "simulate": False})
    sim = run(stack="toggle", model={**model, "simulate": True})
    kept_urns = cluster_and_vpc_urns(gpus)
    assert cluster_and_vpc_urns(sim) == kept_urns
    assert mockrun.urns(sim, ["kubernetes:helm.sh/v3:Release"]) == mockrun.urns(gpus, ["kubernetes:helm.sh/v3:Release"])
    assert gpus.of_type(NODEPOOL) and not sim.of_type(NODEPOOL)
    assert decode(gpus) != decode(sim)
    assert release_values(gpus, "llm-d-infra") == release_values(sim, "llm-d-infra")
    back = run(stack="toggle", model={**model, "simulate": False})
    assert cluster_and_vpc_urns(back) == kept_urns and decode(back) == decode(gpus)


# --- guardrail scopes and warnings --------------------------------------------------------


EXISTING_RAW = {"cluster": {"mode": "existing"}}


def test_gpu_capacity_rules_skip_stacks_that_provision_no_gpus() -> None:
    dra = {"gpu": {"dra": True}}
    assert "GR-PHASE-DRA-PROVISIONER" in guardrails.applicable(settings_of(dra))
    for raw in ({**dra, **EXISTING_RAW}, {**dra, "model": {"simulate": True}}):
        settings = settings_of(raw)
        assert "GR-PHASE-DRA-PROVISIONER" not in guardrails.applicable(settings)
        assert not guardrails.errors(guardrails.evaluate(settings))


def test_aws_rules_are_skipped_on_existing_clusters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guardrails, "RULES", dict(guardrails.RULES))
    monkeypatch.setattr(guardrails, "SCOPES", dict(guardrails.SCOPES))

    @guardrails.rule("GR-TEST-AWS", scope=Scope.AWS)
    def always(settings: Settings) -> list[guardrails.Finding]:
        return [guardrails.Finding("GR-TEST-AWS", Severity.ERROR, "llmd-eks:cluster.name", "test")]

    assert [f.id for f in guardrails.evaluate(settings_of({}))] == ["GR-TEST-AWS"]
    assert [f.id for f in guardrails.evaluate(settings_of({"model": {"simulate": True}}))] == ["GR-TEST-AWS"]
    assert "GR-TEST-AWS" not in [f.id for f in guardrails.evaluate(settings_of(EXISTING_RAW))]


WARNINGS: list[tuple[dict[str, Any], str]] = [
    ({"cluster": {"mode": "existing"}}, "GR-EXISTING-GPU-CAPACITY"),
    ({"cluster": {"mode": "existing", "vpcCidr": "10.1.0.0/16"}, "model": {"simulate": True}}, "cluster.vpcCidr"),
    ({"cluster": {"mode": "existing"}, "model": {"simulate": True}, "serving": {"exposure": "internet-nlb"}}, "NLB"),
    ({"cluster": {"kubeconfigContext": "kind-llmd"}}, "GR-CONTEXT-UNUSED"),
    ({"model": {"simulate": True, "extraArgs": ["--enforce-eager"]}}, "GR-SIM-EXTRA-ARGS"),
    ({"model": {"simulator": {"timeToFirstTokenMs": 50}}}, "GR-SIM-SETTINGS-UNUSED"),
]


@pytest.mark.parametrize(("raw", "expected"), WARNINGS)
def test_settings_that_do_nothing_are_warned_about(raw: dict[str, Any], expected: str) -> None:
    findings = guardrails.evaluate(settings_of(raw))
    assert not guardrails.errors(findings)
    assert any(expected in str(f) and f.severity == Severity.WARNING for f in findings), findings
    assert all(f.key.startswith("llmd-eks:") for f in findings)


def test_no_warnings_for_plain_simulated_and_existing_stacks() -> None:
    for raw in ({"model": {"simulate": True}}, {**EXISTING_RAW, "model": {"simulate": True}}):
        assert guardrails.evaluate(settings_of(raw)) == []


# --- configuration ------------------------------------------------------------------------


def test_an_existing_cluster_needs_no_region() -> None:
    raw = {"cluster": {"mode": "existing"}, "model": {"simulate": True}, "observability": {"enabled": False}}
    assert resolve(raw, "s").region is None  # no aws:region: nothing is created in AWS


def test_simulator_defaults() -> None:
    latency = settings_of({}).model.simulator
    assert (latency.time_to_first_token_ms, latency.inter_token_latency_ms) == (200, 20)


@pytest.mark.parametrize(
    ("simulator_config", "message"),
    [
        ({"timeToFirstTokenMs": -1}, "llmd-eks:model.simulator.timeToFirstTokenMs"),
        ({"interTokenLatencyMs": "20ms"}, "llmd-eks:model.simulator.interTokenLatencyMs"),
        ({"itl": 20}, "llmd-eks:model.simulator.itl: unknown key"),
    ],
)
def test_bad_simulator_settings_name_the_key(simulator_config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_of({"model": {"simulate": True, "simulator": simulator_config}})
