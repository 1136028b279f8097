"""GPU nodes are not replaced all at once: the self-managed NodePool's expiry, and the model
servers' PodDisruptionBudgets (llm-d decode/prefill, Dynamo workers)."""

from __future__ import annotations

from typing import Any

import pytest

from components import mockrun
from components.mockrun import Recording, Registration
from components.plan import disruption
from tests import contracts
from tests.conftest import ROOT, run_program, stack_config

NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
DGD = "kubernetes:nvidia.com/v1alpha1:DynamoGraphDeployment"
DISAGGREGATED_3 = {
    "gpu": {"instanceFamilies": ["p5"], "maxGpus": 16},
    "model": {"name": "Qwen/Qwen3-32B", "tensorParallelism": 4, "replicas": 2},
    "serving": {"path": "pd-disaggregation", "prefill": {"replicas": 4, "tensorParallelism": 2}},
}


def _run(stack: str, **overrides: Any) -> Recording:
    name, config, secrets = stack_config(ROOT / f"Pulumi.{stack}.yaml")
    return run_program(name, {**config, **mockrun.namespaced(overrides)}, secrets)


RUNS = {
    "prod": _run("prod"),  # phase 1, Auto Mode, aggregated
    "phase2a": _run("phase2a"),  # Karpenter, prefill/decode
    "phase3": _run("phase3"),  # Dynamo, aggregated
    "3-disaggregated": _run("phase3", **DISAGGREGATED_3),
}
LLM_D = ("prod", "phase2a")
DYNAMO = ("phase3", "3-disaggregated")


def _cr(reg: Registration) -> dict[str, Any]:
    return {key: reg.inputs[key] for key in ("apiVersion", "kind", "metadata", "spec")}


# --- the self-managed NodePool's expiry ------------------------------------------------------------


@pytest.mark.parametrize("stack", ["phase2a", "phase3"])
def test_self_managed_gpu_nodes_never_expire(stack: str) -> None:
    pool = RUNS[stack].one(NODEPOOL)
    assert pool.inputs["spec"]["template"]["spec"]["expireAfter"] == "Never"
    contracts.require_reference()
    assert contracts.validate_custom_resource(_cr(pool)) == []


def test_the_crd_check_catches_an_invalid_expiry() -> None:
    contracts.require_reference()
    pool = _cr(RUNS["phase2a"].one(NODEPOOL))
    pool["spec"]["template"]["spec"]["expireAfter"] = "never"
    assert any("expireAfter" in e for e in contracts.validate_custom_resource(pool))


def test_auto_mode_gpu_pool_keeps_auto_mode_s_lifetime() -> None:
    """Auto Mode replaces its nodes within 21 days whatever the NodePool says; setting a value
    would only drift (replace) every running GPU node of existing phase 1 stacks."""
    pool = RUNS["prod"].one(NODEPOOL)
    assert pool.inputs["spec"]["template"]["spec"]["nodeClassRef"]["group"] == "eks.amazonaws.com"
    assert "expireAfter" not in pool.inputs["spec"]["template"]["spec"]


# --- PodDisruptionBudgets --------------------------------------------------------------------------


def _budgets(run: Recording) -> dict[str, Registration]:
    return {reg.inputs["metadata"]["name"]: reg for reg in run.of_type(PDB)}


@pytest.mark.parametrize("stack", list(RUNS))
def test_budgets_sit_in_the_serving_namespace_on_the_explicit_provider(stack: str) -> None:
    run = RUNS[stack]
    provider = run.one("pulumi:providers:kubernetes")
    owner = run.one("llmd:dynamo:Dynamo" if stack in DYNAMO else "llmd:llmd:LlmdStack")
    namespace = next(r for r in run.of_type("kubernetes:core/v1:Namespace") if r.parent == owner.urn)
    assert namespace.inputs["metadata"]["name"] == run.outputs["namespace"]
    assert run.of_type(PDB)
    for reg in run.of_type(PDB):
        assert reg.provider_urn == provider.urn
        assert reg.parent == owner.urn
        assert reg.inputs["metadata"]["namespace"] == namespace.inputs["metadata"]["name"]
        assert namespace.urn in run.waits_for(reg), "created after the namespace"
        spec = reg.inputs["spec"]
        assert spec["maxUnavailable"] == 1 and "minAvailable" not in spec
        assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


@pytest.mark.parametrize("stack", LLM_D)
def test_llm_d_budgets_select_exactly_the_model_servers_of_each_role(stack: str) -> None:
    run = RUNS[stack]
    values = run.release("llm-d-modelservice").inputs["values"]
    roles = [role for role in ("decode", "prefill") if values[role]["create"]]
    assert roles == (["decode", "prefill"] if stack == "phase2a" else ["decode"])
    budgets = _budgets(run)
    # The chart's pod labels for a role: modelArtifacts.labels plus llm-d.ai/role (templates/_helpers.tpl).
    pod_labels = {role: {**values["modelArtifacts"]["labels"], "llm-d.ai/role": role} for role in roles}
    assert {name: b.inputs["spec"]["selector"] for name, b in budgets.items()} == {
        f"llm-d-modelservice-{role}": {"matchLabels": pod_labels[role]} for role in roles
    }
    # The InferencePool selects these pods too: the budgets cover what serves.
    pool_selector = run.release("llm-d-inferencepool").inputs["values"]["inferencePool"]["modelServers"]
    for labels in pod_labels.values():
        assert pool_selector["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("stack", DYNAMO)
def test_dynamo_budgets_select_each_worker_service(stack: str) -> None:
    run = RUNS[stack]
    services = run.one(DGD).inputs["spec"]["services"]
    workers = {key: svc for key, svc in services.items() if svc["componentType"] == "worker"}
    assert len(workers) == (2 if stack == "3-disaggregated" else 1)
    selectors = {name: b.inputs["spec"]["selector"]["matchLabels"] for name, b in _budgets(run).items()}
    graph = run.one(DGD).inputs["metadata"]["name"]
    expected = {}
    for key, worker in workers.items():
        # Our label from extraPodMetadata, and the operator's label naming the service.
        expected[f"{graph}-{key.lower()}"] = {
            **worker["extraPodMetadata"]["labels"],
            disruption.DYNAMO_COMPONENT_LABEL: key,
        }
    assert selectors == expected
    frontend_labels = services["Frontend"]["extraPodMetadata"]["labels"]
    assert not any(labels.items() <= frontend_labels.items() for labels in selectors.values())


def test_budgets_are_named_after_the_workloads_they_protect() -> None:
    """A phase switch 2a <-> 3 deletes one set and creates the other, with the serving stack."""
    assert set(_budgets(RUNS["phase2a"])) == {"llm-d-modelservice-decode", "llm-d-modelservice-prefill"}
    assert set(_budgets(RUNS["3-disaggregated"])) == {"llmd-vllmdecodeworker", "llmd-vllmprefillworker"}


def test_gpu_model_servers_roll_one_pod_at_a_time() -> None:
    # With gpu.maxGpus fully used, a surge pod could never get GPUs and the rollout would hang.
    for stack in LLM_D:
        recording = RUNS[stack]
        patches = {r.inputs["metadata"]["name"]: r for r in recording.of_type("kubernetes:apps/v1:DeploymentPatch")}
        expected = {"llm-d-modelservice-decode"} | ({"llm-d-modelservice-prefill"} if stack == "phase2a" else set())
        assert set(patches) == expected, stack
        modelservice = recording.release("llm-d-modelservice")
        for patch in patches.values():
            assert patch.inputs["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
            assert patch.inputs["metadata"]["namespace"] == modelservice.inputs["namespace"]
            assert modelservice.urn in recording.waits_for(patch)
            assert patch.provider_urn == recording.one("pulumi:providers:kubernetes").urn


def test_simulated_model_servers_keep_the_default_rollout() -> None:
    assert _run("sim").of_type("kubernetes:apps/v1:DeploymentPatch") == []
