"""``llmd-eks:gpu`` keys the chosen provisioner ignores are reported, not dropped without a word.

A NodePool (Auto Mode, self-managed Karpenter) reads ``instanceFamilies`` and
``maxGpus``; a managed node group (phase 2b) reads ``instanceTypes``,
``minNodes`` and ``maxNodes``. Only keys the stack file sets count: the phase
preset's fills (``provisioner``, ``operator``, ``dra``) never do.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components import mockrun
from components.config import resolve
from components.plan import guardrails
from components.plan.guardrails import Finding, Severity
from tests.conftest import base_config, stack_settings

IGNORED = "GR-GPU-IGNORED-KEY"
DEFAULT_TYPES = "GR-NODE-GROUP-DEFAULT-INSTANCE-TYPES"


def found(rule_id: str, stack: str = "dev", **sections: Any) -> list[Finding]:
    return [f for f in guardrails.evaluate(stack_settings(stack, **sections)) if f.id == rule_id]


def test_a_dev_stack_moved_to_2b_is_refused_instead_of_launching_p5() -> None:
    """dev keeps instanceFamilies [g6e] and maxGpus 2: the node group would launch the
    default p5.48xlarge, one of them always on."""
    [error] = found(DEFAULT_TYPES, phase="2b")
    assert error.severity == Severity.ERROR and error.key == "llmd-eks:gpu.instanceTypes"
    assert "['g6e']" in error.message and "['p5.48xlarge']" in error.message
    assert "around the clock" in error.message and "$98.32/h" in error.message
    assert "gpu.instanceTypes: [g6e.xlarge]" in error.fix and "remove gpu.instanceFamilies" in error.fix
    [max_gpus] = found(IGNORED, phase="2b")  # instanceFamilies is the error's, not repeated
    assert max_gpus.severity == Severity.WARNING and max_gpus.key == "llmd-eks:gpu.maxGpus"
    assert "gpu.maxNodes" in max_gpus.message and "remove gpu.maxGpus" in max_gpus.fix


def test_the_suggested_instance_types_hold_a_replica() -> None:
    [error] = found(DEFAULT_TYPES, phase="2b", model={"tensorParallelism": 4, "replicas": 1})
    assert "gpu.instanceTypes: [g6e.12xlarge]" in error.fix


def test_the_refused_configuration_registers_nothing() -> None:
    recording = mockrun.Recording()
    with pytest.raises(pulumi.RunError, match=DEFAULT_TYPES):
        mockrun.run_program("moved", base_config(phase="2b"), recording=recording)
    assert recording.resources == []


def test_families_that_hold_the_default_type_only_warn() -> None:
    # prod lists p5, the family of the default p5.48xlarge: what it asks for is what launches.
    assert not found(DEFAULT_TYPES, "prod", phase="2b")
    assert {f.key for f in found(IGNORED, "prod", phase="2b")} == {
        "llmd-eks:gpu.instanceFamilies",
        "llmd-eks:gpu.maxGpus",
    }


def test_families_beside_explicit_instance_types_only_warn() -> None:
    gpu = {"instanceTypes": ["g6e.xlarge"], "maxGpus": 2, "instanceFamilies": ["g6e"]}
    assert not found(DEFAULT_TYPES, phase="2b", gpu=gpu)
    [families, _] = found(IGNORED, phase="2b", gpu=gpu)
    assert families.key == "llmd-eks:gpu.instanceFamilies" and "remove gpu.instanceFamilies" in families.fix


@pytest.mark.parametrize("phase", ["1", "1.5", "2a", "3"])
def test_node_pools_ignore_the_node_group_keys(phase: str) -> None:
    gpu = {"instanceTypes": ["g6e.xlarge"], "minNodes": 0, "maxNodes": 3}
    warnings = found(IGNORED, phase=phase, gpu=gpu)
    assert [f.key for f in warnings] == [f"llmd-eks:gpu.{name}" for name in ("instanceTypes", "minNodes", "maxNodes")]
    provisioner = stack_settings("dev", phase=phase).gpu.provisioner
    for warning in warnings:
        assert warning.severity == Severity.WARNING
        assert f"gpu.provisioner is {provisioner}" in warning.message
        assert warning.fix.startswith(f"remove {warning.key.removeprefix('llmd-eks:')}")
    assert not found(DEFAULT_TYPES, phase=phase, gpu=gpu)


def test_keys_the_phase_preset_fills_are_not_explicit() -> None:
    preset_only = resolve({"phase": "2b"}, "s", region="us-west-2")
    assert preset_only.gpu.model_fields_set >= {"provisioner", "operator", "dra"}  # merged in before validation
    assert preset_only.explicit("gpu") == frozenset()
    own = resolve({"phase": "2b", "gpu": {"dra": True, "maxGpus": 8}}, "s", region="us-west-2")
    assert own.explicit("gpu") == {"dra", "maxGpus"}
    assert own.explicit("serving") == frozenset()


def test_defaults_are_not_reported() -> None:
    """The node group's defaults sit unused under a NodePool, and the NodePool's under a node group."""
    for phase in ("1", "2b"):
        settings = resolve({"phase": phase}, "s", region="us-west-2")
        assert not [f for f in guardrails.evaluate(settings) if f.id in {IGNORED, DEFAULT_TYPES}]


@pytest.mark.parametrize(
    "sections",
    [{"model": {"simulate": True}}, {"cluster": {"mode": "existing"}}],
    ids=["simulated", "existing-cluster"],
)
def test_no_gpu_capacity_no_findings(sections: dict[str, Any]) -> None:
    """Where this program creates no GPU capacity, llmd-eks:gpu sizes nothing at all: no key is singled out."""
    assert not found(DEFAULT_TYPES, phase="2b", **sections)
    assert not found(IGNORED, phase="2b", **sections)
