"""Guardrails and pure plan functions of phases 2a and 3: refused before anything is registered."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components import mockrun
from components.catalog import instances
from components.config import Settings, resolve
from components.plan import dynamo, efa, karpenter, modes
from components.plan.guardrails import Finding, Severity, evaluate
from tests.conftest import base_config

P5_2A: dict[str, Any] = {
    "phase": "2a",
    "gpu": {"instanceFamilies": ["p5"], "maxGpus": 16},
    "model": {"tensorParallelism": 2, "replicas": 4},
    "serving": {"prefill": {"replicas": 4, "tensorParallelism": 2}},
}


def settings(raw: dict[str, Any]) -> Settings:
    return resolve(raw, "s", region="us-west-2")


def with_(base: dict[str, Any], **sections: dict[str, Any] | str) -> dict[str, Any]:
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in sections.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return merged


def findings(raw: dict[str, Any], rule_id: str) -> list[Finding]:
    return [f for f in evaluate(settings(raw)) if f.id == rule_id]


def test_the_2a_baseline_has_no_findings() -> None:
    assert evaluate(settings(P5_2A)) == []


# --- MIG ----------------------------------------------------------------------------------------

MIG = {"strategy": "single", "profile": "all-3g.40gb"}
MIG_2A = with_(
    P5_2A,
    gpu={"mig": MIG},
    model={"tensorParallelism": 1},
    serving={"prefill": {"replicas": 4, "tensorParallelism": 1}},
)


def test_catalog_knows_which_gpus_have_mig() -> None:
    capable = {name for name, family in instances.FAMILIES.items() if family.mig_capable}
    assert capable == {"p4d", "p4de", "p5", "p5e", "p5en", "p6-b200"}
    assert {instances.FAMILIES[f].gpu.model for f in ("g5", "g6", "g6e")} == {"A10G", "L4", "L40S"}


def test_mig_on_mig_capable_karpenter_nodes_passes() -> None:
    assert evaluate(settings(MIG_2A)) == []


@pytest.mark.parametrize("families", [["g6e"], ["p5", "g6"], ["g5"], ["x9z"]])
def test_mig_on_gpus_without_mig_is_refused(families: list[str]) -> None:
    [finding] = findings(with_(MIG_2A, gpu={"instanceFamilies": families}), "GR-MIG-GPU")
    assert finding.severity == Severity.ERROR and finding.key == "llmd-eks:gpu.mig"
    assert all(f in finding.message for f in families if f != "p5")


def test_mig_on_auto_mode_is_refused() -> None:
    [finding] = findings({"gpu": {"instanceFamilies": ["p5"], "mig": MIG}}, "GR-PHASE-MIG-PROVISIONER")
    assert finding.severity == Severity.ERROR and "auto-mode" in finding.message


def test_mig_needs_the_operator_and_the_single_strategy() -> None:
    [operator] = findings(with_(MIG_2A, gpu={"operator": False}), "GR-PHASE-MIG-OPERATOR")
    assert operator.key == "llmd-eks:gpu.operator"
    [strategy] = findings(with_(MIG_2A, gpu={"mig": {**MIG, "strategy": "mixed"}}), "GR-MIG-STRATEGY")
    assert strategy.severity == Severity.ERROR and "nvidia.com/mig-" in strategy.message


def test_mig_refuses_tensor_parallel_workers() -> None:
    raw = with_(MIG_2A, model={"tensorParallelism": 2}, serving={"prefill": {"replicas": 2, "tensorParallelism": 2}})
    keys = {f.key for f in findings(raw, "GR-MIG-TENSOR-PARALLEL")}
    assert keys == {"llmd-eks:model.tensorParallelism", "llmd-eks:serving.prefill.tensorParallelism"}


@pytest.mark.parametrize(
    ("profile", "severity"),
    [
        ("all-7g.141gb", Severity.ERROR),
        ("my-custom-layout", Severity.WARNING),
        ("all-balanced", None),
        ("all-1g.10gb", None),
    ],
)
def test_mig_profile_must_fit_the_gpu(profile: str, severity: Severity | None) -> None:
    found = findings(with_(MIG_2A, gpu={"mig": {**MIG, "profile": profile}}), "GR-MIG-PROFILE")
    assert [f.severity for f in found] == ([severity] if severity else [])


# --- P/D --------------------------------------------------------------------------------------


def test_pd_without_prefill_settings_is_refused() -> None:
    raw = {"phase": "3", "gpu": {"instanceFamilies": ["p5"]}, "serving": {"path": "pd-disaggregation"}}
    [finding] = findings(raw, "GR-PD-PREFILL")
    assert finding.severity == Severity.ERROR and finding.key == "llmd-eks:serving.prefill"


def test_prefill_without_pd_is_refused() -> None:
    [finding] = findings({"serving": {"prefill": {"replicas": 1}}}, "GR-PHASE-PREFILL-PATH")
    assert finding.severity == Severity.ERROR
    assert findings({"serving": {"prefill": {"replicas": 1}}}, "GR-PD-PREFILL") == []


def test_pd_must_fit_the_gpu_budget() -> None:
    assert findings(P5_2A, "GR-GPU-BUDGET") == []  # 4x2 + 4x2 = 16 = maxGpus
    [finding] = findings(with_(P5_2A, model={"replicas": 5}), "GR-GPU-BUDGET")
    assert finding.severity == Severity.ERROR and "need 18 GPUs" in finding.message
    # The preset fills serving.prefill with its defaults (2 x TP 4 = 8 GPUs), which count too.
    [preset] = findings({"phase": "2a", "gpu": {"maxGpus": 16}, "model": {"replicas": 8}}, "GR-GPU-BUDGET")
    assert "need 24 GPUs" in preset.message


def test_prefill_workers_fit_one_node() -> None:
    raw = with_(P5_2A, gpu={"maxGpus": 32}, serving={"prefill": {"replicas": 1, "tensorParallelism": 16}})
    [finding] = findings(raw, "GR-TP-EXCEEDS-NODE")
    assert finding.key == "llmd-eks:serving.prefill.tensorParallelism"


@pytest.mark.parametrize(
    ("families", "warned"), [(["p5"], False), (["p5", "p5en"], False), (["g6e"], True), (["p5", "g6e"], True)]
)
def test_kv_transfer_without_efa_is_a_warning(families: list[str], warned: bool) -> None:
    found = findings(with_(P5_2A, gpu={"instanceFamilies": families, "maxGpus": 64}), "GR-PD-EFA")
    assert [f.severity for f in found] == ([Severity.WARNING] if warned else [])


def test_pd_needs_vllm_not_the_simulator() -> None:
    [finding] = findings(with_(P5_2A, model={"simulate": True}), "GR-PD-SIMULATE")
    assert finding.severity == Severity.ERROR and finding.key == "llmd-eks:model.simulate"


# --- Dynamo -----------------------------------------------------------------------------------

P5_3: dict[str, Any] = {"phase": "3", "gpu": {"instanceFamilies": ["p5"], "maxGpus": 16}, "model": {"replicas": 4}}


@pytest.mark.parametrize(
    ("section", "value", "key"),
    [("model", {"simulate": True}, "model.simulate"), ("gpu", {"dra": True}, "gpu.dra")],
)
def test_dynamo_refuses_what_its_gpu_workers_cannot_run_on(section: str, value: dict[str, Any], key: str) -> None:
    found = findings(with_(P5_3, **{section: value}), "GR-DYNAMO-UNSUPPORTED")
    assert [(f.severity, f.key) for f in found] == [(Severity.ERROR, f"llmd-eks:{key}")]
    assert findings(with_(P5_2A, **{section: value}), "GR-DYNAMO-UNSUPPORTED") == []


def test_dynamo_reports_an_explicit_gateway_as_ignored() -> None:
    assert findings(P5_3, "GR-DYNAMO-GATEWAY") == []
    [finding] = findings(with_(P5_3, serving={"gateway": "agentgateway"}), "GR-DYNAMO-GATEWAY")
    assert finding.severity == Severity.WARNING


# --- Karpenter --------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "refused"), [("1.29", True), ("1.30", False), ("1.36", False), ("1.37", True)])
def test_karpenter_ami_release_must_cover_the_cluster_version(version: str, refused: bool) -> None:
    found = findings(with_(P5_2A, cluster={"kubernetesVersion": version}), "GR-KARPENTER-AMI")
    assert bool(found) is refused
    assert findings({"cluster": {"kubernetesVersion": "1.29"}}, "GR-KARPENTER-AMI") == [], "Auto Mode has no AMI pin"


# --- nothing registered ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"phase": "2a", "gpu": {"instanceFamilies": ["g6e"], "maxGpus": 8, "mig": MIG}}, r"\[GR-MIG-GPU\]"),
        ({"gpu": {"instanceFamilies": ["p5"], "mig": MIG}}, r"\[GR-PHASE-MIG-PROVISIONER\]"),
        ({"phase": "3", "serving": {"path": "pd-disaggregation"}}, r"\[GR-PD-PREFILL\] llmd-eks:serving.prefill"),
        ({"phase": "2a", "serving": {"prefill": {"replicas": 2, "tensorParallelism": 2}}}, r"\[GR-GPU-BUDGET\]"),
    ],
    ids=["mig-on-l40s", "mig-on-auto-mode", "pd-without-prefill", "pd-over-budget"],
)
def test_refused_configurations_register_nothing(overrides: dict[str, Any], message: str) -> None:
    recording = mockrun.Recording()
    with pytest.raises(pulumi.RunError, match=message):
        mockrun.run_program("bad", base_config(**overrides), recording=recording)
    assert recording.resources == []


# --- pure plan functions ---------------------------------------------------------------------


def test_interruption_queue_name_fits_sqs() -> None:
    long_name = "c" + "x" * 99
    name = karpenter.queue_name(settings({"phase": "2a", "cluster": {"name": long_name}}))
    assert len(name) <= 80 and name.endswith("-karpenter")


@pytest.mark.parametrize(
    ("families", "gpus", "devices"),
    [(["p5"], 2, 8), (["p5en"], 2, 4), (["p5", "p5en"], 4, 8), (["p4d"], 1, 1), (["p6-b200"], 8, 8), (["g6e"], 4, 0)],
)
def test_efa_devices_are_the_pod_s_share_of_the_node(families: list[str], gpus: int, devices: int) -> None:
    assert efa.devices(settings(with_(P5_2A, gpu={"instanceFamilies": families})), gpus) == devices


def test_no_efa_on_auto_mode_nodes() -> None:
    assert efa.devices(settings({"gpu": {"instanceFamilies": ["p5"]}}), 8) == 0


def test_model_servers_select_this_phase_s_gpu_pool() -> None:
    assert modes.model_server_node_selector(settings({})) == {"karpenter.sh/nodepool": "llmd-gpu"}
    assert modes.model_server_node_selector(settings({"phase": "2a"})) == {
        "karpenter.sh/nodepool": "llmd-gpu-karpenter"
    }
    assert modes.model_server_node_selector(settings({"phase": "3"})) == {"karpenter.sh/nodepool": "llmd-gpu-karpenter"}


def test_dynamo_endpoint_per_exposure() -> None:
    cluster_ip = settings({"phase": "3"})
    assert dynamo.endpoint(cluster_ip) == ("llm-d", "llmd-frontend", 8000)
    nlb = settings({"phase": "3", "serving": {"exposure": "internet-nlb"}})
    assert dynamo.endpoint(nlb) == ("llm-d", "llmd-frontend-nlb", 80)
    assert dynamo.nlb_service(nlb)["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"
    }
