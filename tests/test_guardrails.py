"""Guardrails: each rule with a configuration that trips it and one that does not.

Configurations start from the committed prod stack (the seed's default
deployment) with sections overridden key by key; presets are applied by
``resolve`` exactly as the program does.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pulumi
import pytest

from components import mockrun
from components.config import ConfigError, Settings, not_implemented
from components.plan import guardrails
from components.plan.guardrails import RULES, Finding, Severity
from tests.conftest import ROOT, STACK_FILES, base_config, stack_settings

MY_MODULES = {"accelerators", "extra_args", "gpu_budget", "instance_types", "model_fit", "network", "phases", "serving"}


def settings(**sections: Any) -> Settings:
    return stack_settings("prod", **sections)


def findings(**sections: Any) -> list[Finding]:
    return guardrails.evaluate(settings(**sections))


EXISTING_PRIVATE_ONLY = {"vpcId": "vpc-0abc", "privateSubnetIds": ["subnet-01", "subnet-02"]}

# rule id -> (tripping sections, passing sections)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "GR-PHASE-DRA-PROVISIONER": ({"gpu": {"dra": True}}, {"phase": "2b"}),
    "GR-PHASE-MIG-PROVISIONER": (
        {"gpu": {"mig": {"strategy": "single", "profile": "all-3g.40gb"}, "operator": True}},
        {"phase": "2a", "gpu": {"mig": {"strategy": "single", "profile": "all-3g.40gb"}}},
    ),
    "GR-PHASE-MIG-OPERATOR": (
        {"phase": "2a", "gpu": {"mig": {"strategy": "single", "profile": "all-3g.40gb"}, "operator": False}},
        {"phase": "2a", "gpu": {"mig": {"strategy": "single", "profile": "all-3g.40gb"}}},
    ),
    "GR-PHASE-PREFILL-PATH": (
        {"serving": {"prefill": {"replicas": 1}}},
        {"phase": "2a", "serving": {"path": "inference-scheduling"}},  # the preset's prefill is not the user's
    ),
    "GR-GPU-UNKNOWN": ({"gpu": {"instanceFamilies": ["p6"]}}, {"gpu": {"instanceFamilies": ["p5"]}}),
    "GR-GPU-AUTO-MODE-UNSUPPORTED": (
        {"gpu": {"instanceFamilies": ["p6-b200"]}},
        {"gpu": {"instanceFamilies": ["p6-b200"], "provisioner": "karpenter"}},
    ),
    "GR-GPU-AUTO-MODE-LIMITED": ({"gpu": {"instanceFamilies": ["p5en"]}}, {"gpu": {"instanceFamilies": ["p5"]}}),
    "GR-GPU-CATEGORY-MIX": (
        {"gpu": {"instanceFamilies": ["g6e", "p5"]}},
        {"gpu": {"instanceFamilies": ["p5", "p4de"]}},
    ),
    "GR-GPU-QUOTA": ({"gpu": {"maxGpus": 24}}, {"gpu": {"maxGpus": 16}}),
    "GR-GPU-SPOT-CONSTRAINED": (
        {"gpu": {"instanceFamilies": ["p5en"], "capacityTypes": ["spot", "on-demand"]}},
        {"gpu": {"instanceFamilies": ["p5"], "capacityTypes": ["spot", "on-demand"]}},
    ),
    "GR-CAPACITY-RESERVED": (
        {"gpu": {"capacityTypes": ["reserved"]}},
        {"gpu": {"capacityTypes": ["on-demand"]}},
    ),
    "GR-TP-EXCEEDS-NODE": (
        {"model": {"tensorParallelism": 16, "replicas": 1}},
        {"model": {"tensorParallelism": 8, "replicas": 2}},
    ),
    "GR-TP-NODE-DIVISOR": (
        {"model": {"tensorParallelism": 3, "replicas": 2}},
        {"model": {"tensorParallelism": 4, "replicas": 4}},
    ),
    "GR-GPU-BUDGET": ({"model": {"replicas": 9}}, {"model": {"replicas": 8}}),
    "GR-GPU-MAXGPUS-MULTIPLE": (
        {"gpu": {"maxGpus": 12}, "model": {"replicas": 4}},
        {"gpu": {"maxGpus": 8}, "model": {"replicas": 4}},
    ),
    "GR-MODEL-UNKNOWN": (
        {"model": {"name": "acme/Mystery-13B"}},
        {
            "model": {
                "name": "acme/Mystery-13B",
                "parametersBillions": 13,
                "layers": 40,
                "kvHeads": 8,
                "headDim": 128,
            }
        },
    ),
    "GR-MODEL-WEIGHTS": (
        {"model": {"name": "meta-llama/Llama-3.3-70B-Instruct", "tensorParallelism": 1, "replicas": 8}},
        {"model": {"name": "meta-llama/Llama-3.3-70B-Instruct", "tensorParallelism": 4, "replicas": 4}},
    ),
    "GR-MODEL-KV-CACHE": (
        {"model": {"tensorParallelism": 1, "maxModelLen": 40960}},
        {"model": {"tensorParallelism": 2, "maxModelLen": 40960}},
    ),
    "GR-MODEL-CONTEXT": (
        {"model": {"maxModelLen": 131072}},
        {"model": {"maxModelLen": 131072, "extraArgs": ["--hf-overrides", '{"rope_scaling": {"factor": 4.0}}']}},
    ),
    "GR-MODEL-EXTRA-ARGS-MANAGED": (
        {"model": {"extraArgs": ["--port", "9000"]}},
        {"model": {"extraArgs": ["--enable-prefix-caching", "--max-num-seqs=128"]}},
    ),
    "GR-SERVING-NAMESPACE-RESERVED": ({"serving": {"namespace": "istio-system"}}, {"serving": {"namespace": "llm"}}),
    "GR-MODEL-GATED-NO-TOKEN": (
        {"model": {"name": "meta-llama/Llama-3.1-8B-Instruct", "tensorParallelism": 1, "replicas": 2}},
        {"model": {"name": "Qwen/Qwen3-8B", "tensorParallelism": 1, "replicas": 2}},
    ),
    "GR-EXISTING-VPC-PUBLIC-SUBNETS": (
        {"serving": {"exposure": "internet-nlb"}, "cluster": {"existingVpc": EXISTING_PRIVATE_ONLY}},
        {"serving": {"exposure": "internal-nlb"}, "cluster": {"existingVpc": EXISTING_PRIVATE_ONLY}},
    ),
    # p5 with TP=2 runs 4 replicas a node, each downloading its own copy of the weights.
    "GR-MODEL-DISK": ({"gpu": {"ephemeralStorage": "200Gi"}}, {"gpu": {"ephemeralStorage": "300Gi"}}),
    "GR-GPU-TIME-SLICING-PROVISIONER": (
        {"gpu": {"timeSlicing": {"replicas": 4}}},
        {"phase": "2a", "gpu": {"timeSlicing": {"replicas": 4}}},
    ),
}

# The severity each rule reports, as documented in the README.
SEVERITY = {
    rule_id: Severity.WARNING
    for rule_id in (
        "GR-GPU-AUTO-MODE-LIMITED",
        "GR-GPU-QUOTA",
        "GR-GPU-SPOT-CONSTRAINED",
        "GR-GPU-MAXGPUS-MULTIPLE",
        "GR-MODEL-UNKNOWN",
    )
}


def test_every_rule_of_these_modules_has_a_case() -> None:
    mine = {rule_id for rule_id, fn in RULES.items() if fn.__module__.rsplit(".", 1)[1] in MY_MODULES}
    assert mine == set(CASES)


@pytest.mark.parametrize(
    ("sections", "outcome"),
    [
        ({"gpu": {"capacityTypes": ["reserved"]}}, "the pool can never launch a GPU node"),
        ({"gpu": {"capacityTypes": ["on-demand", "reserved"]}}, "the pool launches on-demand only"),
        ({"phase": "2a", "gpu": {"capacityTypes": ["reserved"]}}, "the pool can never launch a GPU node"),
        ({"phase": "3", "gpu": {"capacityTypes": ["spot", "reserved"]}}, "the pool launches spot only"),
    ],
    ids=["auto-mode", "auto-mode-with-on-demand", "karpenter", "karpenter-with-spot"],
)
def test_reserved_capacity_is_refused_on_every_node_pool(sections: dict[str, Any], outcome: str) -> None:
    """No NodeClass sets capacityReservationSelectorTerms: 'reserved' selects no capacity anywhere."""
    [finding] = [f for f in findings(**sections) if f.id == "GR-CAPACITY-RESERVED"]
    assert finding.severity == Severity.ERROR
    assert finding.key == "llmd-eks:gpu.capacityTypes"
    assert "capacityReservationSelectorTerms" in finding.message and outcome in finding.message
    assert "remove 'reserved'" in finding.fix


def test_reserved_capacity_on_a_node_group_is_the_dra_rule_s() -> None:
    found = {f.id for f in findings(phase="2b", gpu={"capacityTypes": ["reserved"]})}
    assert "GR-DRA-CAPACITY-TYPE" in found and "GR-CAPACITY-RESERVED" not in found


def test_extra_args_may_not_override_managed_flags_in_either_spelling() -> None:
    for args in (["--tensor-parallel-size", "4"], ["--max-model-len=8192"]):
        assert [f for f in findings(model={"extraArgs": args}) if f.id == "GR-MODEL-EXTRA-ARGS-MANAGED"], args
    lora = {"model": {"extraArgs": ["--max-loras", "4"], "loraAdapters": [{"name": "a", "source": "hf://o/r"}]}}
    assert [f for f in findings(**lora) if f.id == "GR-MODEL-EXTRA-ARGS-MANAGED"]
    assert not [f for f in findings(model={"extraArgs": ["--max-loras", "4"]}) if f.id == "GR-MODEL-EXTRA-ARGS-MANAGED"]


def test_gated_model_passes_with_a_token() -> None:
    gated = settings(model={"name": "meta-llama/Llama-3.1-8B-Instruct", "tensorParallelism": 1, "replicas": 2})
    with_token = dataclasses.replace(gated, has_hf_token=True)
    assert not [f for f in guardrails.evaluate(with_token) if f.id == "GR-MODEL-GATED-NO-TOKEN"]


def test_model_disk_counts_a_copy_per_replica_unless_weights_stream_from_s3() -> None:
    [finding] = [f for f in findings(gpu={"ephemeralStorage": "200Gi"}) if f.id == "GR-MODEL-DISK"]
    assert "4 x " in finding.message
    streamed = findings(gpu={"ephemeralStorage": "200Gi"}, modelCache={"enabled": True})
    assert not [f for f in streamed if f.id == "GR-MODEL-DISK"]


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_trips_and_passes(rule_id: str) -> None:
    tripping, passing = CASES[rule_id]
    tripped = [f for f in findings(**tripping) if f.id == rule_id]
    assert tripped, f"{rule_id} did not trip"
    for finding in tripped:
        assert finding.severity == SEVERITY.get(rule_id, Severity.ERROR)
        assert finding.key.startswith("llmd-eks:"), "the message names the key to change"
        assert finding.message and finding.fix
    assert not [f for f in findings(**passing) if f.id == rule_id], f"{rule_id} tripped on the passing config"


@pytest.mark.parametrize("stack", [path.name.split(".")[1] for path in STACK_FILES])
def test_committed_stacks_pass_cleanly(stack: str) -> None:
    """The seed's default deployment (prod) and every other committed stack: no finding at all."""
    assert guardrails.evaluate(stack_settings(stack)) == []


def test_findings_list_errors_first() -> None:
    found = findings(gpu={"instanceFamilies": ["p5en"], "maxGpus": 12}, model={"replicas": 8})
    severities = [f.severity for f in found]
    assert Severity.ERROR in severities and Severity.WARNING in severities
    assert severities == sorted(severities, key=lambda s: s != Severity.ERROR)


@pytest.mark.parametrize(
    ("family", "hint"),
    [
        ("p6", "did you mean 'p6-b200'"),
        ("p5.48xlarge", "is an instance type; list its family 'p5'"),
        ("g", "is an instance category"),
        ("g6x", "did you mean"),
    ],
)
def test_unknown_family_messages_say_what_to_write(family: str, hint: str) -> None:
    (finding,) = [f for f in findings(gpu={"instanceFamilies": [family]}) if f.id == "GR-GPU-UNKNOWN"]
    assert finding.key == "llmd-eks:gpu.instanceFamilies"
    assert hint in finding.message and repr(family) in finding.message


def test_fractional_g6f_is_refused_on_auto_mode() -> None:
    ids = {
        f.id
        for f in findings(gpu={"instanceFamilies": ["g6f"]}, model={"name": "Qwen/Qwen3-0.6B", "tensorParallelism": 1})
    }
    assert "GR-GPU-AUTO-MODE-UNSUPPORTED" in ids


def test_quota_reminder_names_the_quota_codes() -> None:
    (p,) = [f for f in findings(gpu={"maxGpus": 24, "capacityTypes": ["on-demand", "spot"]}) if f.id == "GR-GPU-QUOTA"]
    assert "576 vCPU" in p.message and "L-417A185B" in p.message and "L-7212CCBC" in p.message
    g_family = {"instanceFamilies": ["g6e"], "maxGpus": 8}
    (g,) = [f for f in findings(gpu=g_family, model={"tensorParallelism": 4, "replicas": 2}) if f.id == "GR-GPU-QUOTA"]
    assert "96 vCPU" in g.message and "L-DB2E81BA" in g.message and "default quota of 64" in g.message


def test_budget_counts_whole_nodes_and_prefill() -> None:
    # TP=2 on g6e needs a 4-GPU g6e.12xlarge, which a 2-GPU limit never launches.
    (whole,) = [
        f
        for f in findings(gpu={"instanceFamilies": ["g6e"], "maxGpus": 2}, model={"replicas": 1})
        if f.id == "GR-GPU-BUDGET"
    ]
    assert "need 2 GPUs (4 counted in whole nodes)" in whole.message
    assert "decode 1 replica x 2 GPUs = 2 (4 in whole g6e.12xlarge nodes)" in whole.message
    assert whole.fix.startswith("set gpu.maxGpus: 4,")
    # Phase 2a adds prefill workers (2 x TP 4) to the 8 x TP 2 decode replicas.
    (prefill,) = [f for f in findings(phase="2a") if f.id == "GR-GPU-BUDGET"]
    assert "need 24 GPUs" in prefill.message
    assert not [f for f in findings(phase="2a", gpu={"maxGpus": 24}) if f.id == "GR-GPU-BUDGET"]


def test_budget_breaks_the_gpus_down_per_role_and_names_the_preset() -> None:
    # The dev stack moved to 2a: maxGpus 2 against 2 x 1 decode GPUs and the preset's 2 x 4 prefill GPUs.
    [budget] = [f for f in guardrails.evaluate(stack_settings("dev", phase="2a")) if f.id == "GR-GPU-BUDGET"]
    assert "need 10 GPUs but gpu.maxGpus allows 2" in budget.message
    assert "decode 2 replicas x 1 GPU = 2; prefill 2 replicas x 4 GPUs = 8" in budget.message
    assert "from the phase 2a preset's serving.prefill" in budget.message
    assert budget.fix.startswith("set gpu.maxGpus: 10, or lower model.replicas or serving.prefill.replicas")
    assert "set serving.prefill to size them" in budget.fix
    # Prefill set in the stack file: its numbers are the user's, not the preset's.
    own = stack_settings("dev", phase="2a", serving={"prefill": {"replicas": 1, "tensorParallelism": 4}})
    [budget] = [f for f in guardrails.evaluate(own) if f.id == "GR-GPU-BUDGET"]
    assert "prefill 1 replica x 4 GPUs = 4" in budget.message and "preset" not in budget.message + budget.fix
    assert budget.fix.startswith("set gpu.maxGpus: 6,")


def test_weights_fix_suggests_enough_tensor_parallelism() -> None:
    model = {"name": "meta-llama/Llama-3.3-70B-Instruct", "tensorParallelism": 1, "replicas": 8}
    (weights,) = [f for f in findings(model=model) if f.id == "GR-MODEL-WEIGHTS"]
    assert "raise model.tensorParallelism to 2" in weights.fix
    assert "more than the 71.68 GiB vLLM may use on H100 80GB" in weights.message


def test_memory_checks_use_the_smallest_gpu_in_the_pool() -> None:
    # p4d's A100 40GB cannot hold half of Qwen3-32B with room for a 32k sequence; p5 can.
    found = findings(gpu={"instanceFamilies": ["p5", "p4d"]}, model={"tensorParallelism": 1, "replicas": 8})
    assert any(f.id == "GR-MODEL-WEIGHTS" and "p4d.24xlarge" in f.message for f in found)


def test_fp8_kv_cache_doubles_the_tokens() -> None:
    tight = {"tensorParallelism": 1, "maxModelLen": 40960}
    assert any(f.id == "GR-MODEL-KV-CACHE" for f in findings(model=tight))
    fp8 = {**tight, "extraArgs": ["--kv-cache-dtype", "fp8"]}
    assert not any(f.id == "GR-MODEL-KV-CACHE" for f in findings(model=fp8))


def test_model_numbers_in_config_override_the_catalogue() -> None:
    # An FP8 fine-tune published under another name: one byte per parameter fits TP=1 with room.
    found = findings(model={"name": "acme/Qwen3-32B-tuned", "tensorParallelism": 1, "maxModelLen": 40960})
    assert any(f.id == "GR-MODEL-UNKNOWN" for f in found)
    numbers = {"parametersBillions": 32.8, "bytesPerParameter": 1, "layers": 64, "kvHeads": 8, "headDim": 128}
    tuned = {"name": "acme/Qwen3-32B-tuned", "tensorParallelism": 1, "maxModelLen": 40960, **numbers}
    assert findings(model=tuned) == []
    override = {"tensorParallelism": 1, "maxModelLen": 40960, "bytesPerParameter": 1}
    assert not any(f.id.startswith("GR-MODEL") for f in findings(model=override))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"kvHeads": 0}, "llmd-eks:model.kvHeads"),
        ({"parametersBillions": "13B"}, "llmd-eks:model.parametersBillions"),
        ({"bytesPerParameter": 8}, "llmd-eks:model.bytesPerParameter"),
    ],
)
def test_model_numbers_are_validated(model: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings(model=model)


def _run_with(**sections: Any) -> tuple[mockrun.Recording, Exception | None]:
    recording = mockrun.Recording()
    config = base_config()
    for section, values in sections.items():
        config[f"llmd-eks:{section}"] = {**config.get(f"llmd-eks:{section}", {}), **values}
    try:
        mockrun.run_program("t", config, recording=recording)
    except pulumi.RunError as error:
        return recording, error
    return recording, None


@pytest.mark.parametrize(
    ("sections", "rule_id"),
    [
        ({"gpu": {"instanceFamilies": ["p6"]}}, "GR-GPU-UNKNOWN"),
        ({"model": {"name": "meta-llama/Llama-3.3-70B-Instruct"}}, "GR-MODEL-WEIGHTS"),
        ({"model": {"replicas": 3}}, "GR-GPU-BUDGET"),
    ],
)
def test_an_erroring_configuration_registers_nothing(sections: dict[str, Any], rule_id: str) -> None:
    recording, error = _run_with(**sections)
    assert error is not None and f"[{rule_id}]" in str(error)
    assert recording.resources == []


def test_warnings_are_logged_and_the_program_still_runs() -> None:
    recording, error = _run_with(gpu={"instanceFamilies": ["p5en"], "maxGpus": 12}, model={"replicas": 1})
    assert error is None and recording.resources
    warned = {w.split("]", 1)[0].removeprefix("[") for w in recording.warnings if w.startswith("[GR-")}
    assert warned == {"GR-GPU-AUTO-MODE-LIMITED", "GR-GPU-MAXGPUS-MULTIPLE"}


def readme_guardrails() -> tuple[set[str], dict[str, str]]:
    """Every guardrail id in any README table, and ``id -> severity`` from the general table."""
    readme = (ROOT / "README.md").read_text()
    anywhere = set(re.findall(r"^\| `?(GR-[A-Z0-9-]+)`? \|", readme, flags=re.MULTILINE))
    section = readme.split("\n## Guardrails\n", 1)[1].split("\n## ", 1)[0]
    general = dict(re.findall(r"^\| `(GR-[A-Z0-9-]+)` \| (error|warning) \|", section, flags=re.MULTILINE))
    return anywhere, general


def test_readme_documents_every_guardrail() -> None:
    anywhere, general = readme_guardrails()
    assert anywhere == set(RULES)
    for rule_id in CASES:
        assert general[rule_id] == SEVERITY.get(rule_id, Severity.ERROR)


def test_time_slicing_is_refused_until_a_karpenter_phase_builds_it() -> None:
    problems = not_implemented(settings(phase="2a", gpu={"timeSlicing": {"replicas": 4}}))
    assert "llmd-eks:gpu.timeSlicing: GPU time-slicing is not implemented yet; remove gpu.timeSlicing" in problems
    with pytest.raises(ConfigError, match=re.escape("llmd-eks:gpu.timeSlicing.replicas")):
        settings(gpu={"timeSlicing": {"replicas": 1}})
