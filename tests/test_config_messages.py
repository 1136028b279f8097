"""What a wrong stack configuration is told: the key, the value in words, and the fix.

Each case is a mistake a reviewer made on purpose through ``python -m
components.plan``: a misspelt namespace, unquoted versions, regular expressions
where words belong, whole sections quoted back, a class name for an object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from pydantic import BaseModel

from components import config, mockrun
from components.config import ConfigError, Settings, not_implemented, resolve
from components.plan import karpenter, nodepool, report
from components.plan.guardrails import evaluate
from components.pulumi_config import engine_values, namespace_values
from tests.conftest import base_config, run_program, stack_settings


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        resolve(raw, "s", region="us-west-2")
    return error.value.problems


def from_stack_file(stack_config: dict[str, Any]) -> dict[str, Any]:
    """The ``llmd-eks:`` values as the program reads them from the engine."""
    return namespace_values(engine_values(stack_config), set())


# --- a misspelt namespace ---------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["llmdeks", "llmd_eks", "LLMD-EKS", "llmd-ek", "lmd-eks"])
def test_a_misspelt_namespace_is_refused(namespace: str) -> None:
    with pytest.raises(ConfigError) as error:
        from_stack_file({f"{namespace}:model": {"replicas": 2}, "llmd-eks:phase": "1"})
    [problem] = error.value.problems
    assert problem.startswith(f"{namespace}:model: ")
    assert "did you mean llmd-eks:model?" in problem and "defaults" in problem


def test_other_namespaces_are_left_alone() -> None:
    raw = from_stack_file(
        {
            "aws:region": "us-west-2",
            "kubernetes:context": "kind",
            "pulumi:tags": {"team": "ml"},
            "eks:something": "x",
            "random:seed": "1",
            "llmd-eks:model": {"replicas": 2},
        }
    )
    assert raw == {"model": {"replicas": 2}}


def test_the_program_registers_nothing_for_a_misspelt_namespace() -> None:
    recording = mockrun.Recording()
    stack = {**base_config(), "llmdeks:model": {"replicas": 2}}
    with pytest.raises(pulumi.RunError, match="did you mean llmd-eks:model"):
        mockrun.run_program("typo", stack, recording=recording)
    assert recording.resources == []


# --- words, not regular expressions -----------------------------------------------------------


def _fields(model: type[BaseModel]) -> list[tuple[str, Any]]:
    found = []
    for name, field in model.model_fields.items():
        found.append((f"{model.__name__}.{name}", field))
        for arg in getattr(field.annotation, "__args__", (field.annotation,)):
            nested = getattr(arg, "__args__", (arg,))
            found += [f for t in nested if isinstance(t, type) and issubclass(t, BaseModel) for f in _fields(t)]
    return found


def test_no_field_reports_a_bare_pattern() -> None:
    """pydantic words a ``Field(pattern=...)`` failure as the regular expression itself."""
    with_pattern = [
        name for name, field in _fields(config.StackConfig) if any(getattr(m, "pattern", None) for m in field.metadata)
    ]
    assert with_pattern == []


PATTERN_CASES = [
    ({"gpu": {"consolidateAfter": "5min"}}, "llmd-eks:gpu.consolidateAfter", "a duration like 30s, 10m, 1h"),
    ({"model": {"name": "Qwen3-8B"}}, "llmd-eks:model.name", "a Hugging Face repo id <org>/<model>"),
    ({"serving": {"namespace": "LLM_D"}}, "llmd-eks:serving.namespace", "lowercase letters, digits and '-'"),
    ({"cluster": {"name": "1st"}}, "llmd-eks:cluster.name", "an EKS cluster name"),
    (
        {"cluster": {"existingVpc": {"vpcId": "vpc-XYZ", "privateSubnetIds": ["subnet-1", "subnet-2"]}}},
        "llmd-eks:cluster.existingVpc.vpcId",
        "a VPC id like vpc-",
    ),
    (
        {"model": {"loraAdapters": [{"name": "-a", "source": "hf://org/repo"}]}},
        "llmd-eks:model.loraAdapters.0.name",
        "an adapter name",
    ),
    (
        {"autoscaling": {"offPeak": {"timezone": "Europe Berlin"}}},
        "llmd-eks:autoscaling.offPeak.timezone",
        "an IANA time zone",
    ),
    ({"autoscaling": {"offPeak": {"start": "20:00"}}}, "llmd-eks:autoscaling.offPeak.start", "a five-field cron"),
    ({"modelCache": {"bucket": "My_Bucket"}}, "llmd-eks:modelCache.bucket", "an S3 bucket name"),
    ({"modelCache": {"prefix": "models*/"}}, "llmd-eks:modelCache.prefix", "no wildcards"),
    ({"gpu": {"ephemeralStorage": "500GB"}}, "llmd-eks:gpu.ephemeralStorage", "whole Gi or Ti, like 500Gi"),
]


@pytest.mark.parametrize(("raw", "key", "words"), PATTERN_CASES, ids=[case[1] for case in PATTERN_CASES])
def test_format_errors_say_what_is_expected(raw: dict[str, Any], key: str, words: str) -> None:
    [problem] = problems(raw)
    assert problem.startswith(f"{key}: expected ") and words in problem
    assert "pattern" not in problem and "^" not in problem and "$'" not in problem


# --- numbers where strings belong -------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "quoted", "explained"),
    [(1.30, '"1.30"', "an unquoted 1.30 reads as 1.3"), (1.34, '"1.34"', "a number, not a version")],
    ids=["1.30", "1.34"],
)
def test_an_unquoted_kubernetes_version_says_write_it_quoted(written: float, quoted: str, explained: str) -> None:
    [problem] = problems(from_stack_file({"llmd-eks:cluster": {"kubernetesVersion": written}}))
    assert problem.startswith("llmd-eks:cluster.kubernetesVersion: ")
    assert f"write it quoted: {quoted}" in problem and explained in problem


# --- sections quoted back whole, class names --------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"gpu": {"minNodes": 3, "maxNodes": 2}}, "lower gpu.minNodes or raise gpu.maxNodes"),
        ({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "minReplicas (5) is larger than maxReplicas (2)"),
    ],
)
def test_a_check_across_keys_does_not_quote_the_section(raw: dict[str, Any], message: str) -> None:
    [problem] = problems({**raw, "phase": "1"})
    assert message in problem
    assert "(got {" not in problem and "provisioner" not in problem, "the merged section is noise"


@pytest.mark.parametrize("written", [False, "false"])
def test_a_section_written_as_a_switch_shows_the_object(written: Any) -> None:
    [problem] = problems({"observability": written})
    assert problem.startswith("llmd-eks:observability: expected an object, e.g. {enabled: false}")
    assert "ObservabilityConfig" not in problem


def test_an_object_key_lists_its_keys() -> None:
    [problem] = problems({"gpu": {"mig": "all-3g.40gb"}})
    assert "llmd-eks:gpu.mig: expected an object with the keys strategy, profile" in problem
    assert "MigConfig" not in problem


def test_unbuilt_features_say_how_to_get_past_them() -> None:
    settings = stack_settings("prod", phase="2a", gpu={"timeSlicing": {"replicas": 2}})
    assert not_implemented(settings) == [
        "llmd-eks:gpu.timeSlicing: GPU time-slicing is not implemented yet; remove gpu.timeSlicing"
    ]


# --- gpu.ephemeralStorage: whole GiB ----------------------------------------------------------


@pytest.mark.parametrize("written", ["200.5Gi", "200000000000", "500G", "1.5Ti", "500Mi", "0Gi", "500 Gi"])
def test_ephemeral_storage_is_whole_gib(written: str) -> None:
    [problem] = problems({"gpu": {"ephemeralStorage": written}})
    assert problem.startswith("llmd-eks:gpu.ephemeralStorage: expected a disk size in whole Gi or Ti")
    assert repr(written) in problem


@pytest.mark.parametrize(("written", "gib"), [("500Gi", 500), ("80Gi", 80), ("1Ti", 1024), ("2Ti", 2048)])
def test_every_disk_sized_from_ephemeral_storage_agrees(written: str, gib: int) -> None:
    auto_mode = stack_settings("prod", gpu={"ephemeralStorage": written})
    assert auto_mode.gpu.ephemeral_storage_gib == gib
    assert nodepool.node_class_spec(auto_mode, "role", [], "sg")["ephemeralStorage"] == {"size": written}
    on_karpenter = stack_settings("phase2a", gpu={"ephemeralStorage": written})
    [root] = karpenter.node_class_spec(on_karpenter, "role")["blockDeviceMappings"]
    assert root["ebs"]["volumeSize"] == f"{gib}Gi"


def test_the_node_group_disk_and_the_disk_check_read_ephemeral_storage() -> None:
    config = base_config(
        phase="2b", gpu={"instanceTypes": ["g6e.xlarge"], "capacityTypes": ["on-demand"], "ephemeralStorage": "1Ti"}
    )
    recording = run_program("disk", config)
    assert recording.one("aws:eks/nodeGroup:NodeGroup").inputs["diskSize"] == 1024
    # Qwen3-32B on p5 with TP 2: four copies of 61 GiB of weights do not fit 200Gi, they fit 1Ti.
    assert any(f.id == "GR-MODEL-DISK" for f in evaluate(stack_settings("prod", gpu={"ephemeralStorage": "200Gi"})))
    assert not any(f.id == "GR-MODEL-DISK" for f in evaluate(stack_settings("prod", gpu={"ephemeralStorage": "1Ti"})))


# --- the phase preset, as resolved ------------------------------------------------------------


def plan_header(settings: Settings) -> str:
    return report.as_text(report.Plan("s", Path("Pulumi.s.yaml"), settings=settings)).splitlines()[1]


def test_the_preset_is_recorded_with_its_resolved_values() -> None:
    settings = resolve({"phase": "2a"}, "s", region="us-west-2")
    assert settings.preset_applied["serving.prefill"] == {"replicas": 2, "tensorParallelism": 4}
    assert settings.preset_applied["gpu.provisioner"] == "karpenter"
    header = plan_header(settings)
    assert 'serving.prefill={"replicas": 2, "tensorParallelism": 4}' in header
    assert "serving.prefill={}" not in header


def test_the_plan_header_lists_only_what_the_preset_filled() -> None:
    settings = resolve({"phase": "2a", "serving": {"prefill": {"replicas": 1}}}, "s", region="us-west-2")
    assert "serving.prefill" not in settings.preset_applied
    assert "serving.prefill" not in plan_header(settings) and "serving.path=" in plan_header(settings)
