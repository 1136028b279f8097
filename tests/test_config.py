"""Configuration contract: defaults, presets, and bad input refused before any registration."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components import mockrun
from components.config import PHASE_PRESETS, ConfigError, resolve
from components.pulumi_config import engine_values, namespace_values
from tests.conftest import base_config


def test_defaults_are_the_documented_contract() -> None:
    settings = resolve({}, "prod", region="us-west-2")
    cfg = settings.config
    assert settings.cluster_name == "llmd-prod"
    assert cfg.phase == "1"
    assert (cfg.cluster.kubernetes_version, cfg.cluster.vpc_cidr) == ("1.34", "10.0.0.0/16")
    assert cfg.cluster.endpoint_public_access and cfg.cluster.public_access_cidrs == ["0.0.0.0/0"]
    assert not cfg.cluster.protect and cfg.cluster.mode == "eks-auto" and cfg.cluster.kubeconfig_context == ""
    assert cfg.gpu.instance_families == ["p5"] and cfg.gpu.capacity_types == ["on-demand"]
    assert (cfg.gpu.max_gpus, cfg.gpu.ephemeral_storage, cfg.gpu.consolidate_after) == (16, "500Gi", "30s")
    assert (cfg.gpu.instance_types, cfg.gpu.min_nodes, cfg.gpu.max_nodes) == (["p5.48xlarge"], 1, 2)
    assert (cfg.model.name, cfg.model.tensor_parallelism, cfg.model.replicas) == ("Qwen/Qwen3-32B", 2, 8)
    assert (cfg.model.max_model_len, cfg.model.gpu_memory_utilization) == (32768, 0.90)
    assert cfg.model.extra_args == [] and cfg.model.lora_adapters == [] and not cfg.model.simulate
    assert (cfg.serving.namespace, cfg.serving.gateway, cfg.serving.exposure) == ("llm-d", "istio", "cluster-ip")
    assert cfg.serving.release == "v0.6"
    assert cfg.observability.enabled
    assert not cfg.autoscaling.enabled and (cfg.autoscaling.min_replicas, cfg.autoscaling.max_replicas) == (2, 8)
    assert cfg.autoscaling.queue_depth_target == 5
    assert not cfg.model_cache.enabled and (cfg.model_cache.bucket, cfg.model_cache.prefix) == ("", "models/")


@pytest.mark.parametrize("phase", sorted(PHASE_PRESETS))
def test_presets_fill_only_unset_switches(phase: str) -> None:
    settings = resolve({"phase": phase}, "s", region="us-west-2")
    preset = PHASE_PRESETS[phase]
    assert settings.gpu.provisioner == preset["gpu"]["provisioner"]
    assert settings.serving.stack == preset["serving"]["stack"]
    assert settings.preset_applied["gpu.provisioner"] == preset["gpu"]["provisioner"]

    explicit = resolve({"phase": phase, "serving": {"path": "inference-scheduling"}}, "s", region="us-west-2")
    assert explicit.serving.path == "inference-scheduling"
    assert "serving.path" not in explicit.preset_applied


BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"model": {"replica": 2}}, "llmd-eks:model.replica: unknown key"),
    ({"model": {"replicas": -1}}, "llmd-eks:model.replicas"),
    ({"model": {"replicas": "8"}}, "llmd-eks:model.replicas"),
    ({"model": {"tensorParallelism": 0}}, "llmd-eks:model.tensorParallelism"),
    ({"model": {"gpuMemoryUtilization": 1.5}}, "llmd-eks:model.gpuMemoryUtilization"),
    ({"phase": "4"}, "llmd-eks:phase"),
    ({"modle": {"name": "x/y"}}, "llmd-eks:modle: unknown key"),
    ({"cluster": {"kubernetesVersion": "1.28"}}, "llmd-eks:cluster.kubernetesVersion"),
    ({"cluster": {"kubernetesVersion": 1.34}}, "llmd-eks:cluster.kubernetesVersion"),
    ({"cluster": {"vpcCidr": "10.0.0.0/8"}}, "llmd-eks:cluster.vpcCidr"),
    ({"serving": {"exposure": "public"}}, "llmd-eks:serving.exposure"),
    ({"serving": {"release": "v9"}}, "llmd-eks:serving.release"),
    ({"gpu": {"capacityTypes": ["spot", "cheap"]}}, "llmd-eks:gpu.capacityTypes.1"),
    ({"gpu": {"ephemeralStorage": "500 GB"}}, "llmd-eks:gpu.ephemeralStorage"),
    ({"modelCache": {"prefix": "models*/"}}, "llmd-eks:modelCache.prefix"),
    ({"gpu": {"minNodes": 3, "maxNodes": 2}}, "llmd-eks:gpu: minNodes (3) is larger than maxNodes (2)"),
    ({"cluster": {"existingVpc": {"vpcId": "vpc-1", "privateSubnetIds": ["sn-1", "subnet-2"]}}}, "subnet id"),
]


@pytest.mark.parametrize(("raw", "message"), BAD_CONFIGS)
def test_bad_configuration_names_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        resolve(raw, "s", region="us-west-2")
    assert message in str(error.value)


@pytest.mark.parametrize(("raw", "message"), [*BAD_CONFIGS[:4], ({"phase": "2a"}, r"\[GR-GPU-BUDGET\]")])
def test_program_registers_nothing_for_bad_configuration(raw: dict[str, Any], message: str) -> None:
    recording = mockrun.Recording()
    config = base_config()
    for key, value in raw.items():
        full = f"llmd-eks:{key}"
        merged = dict(config.get(full, {})) if isinstance(value, dict) else value
        if isinstance(value, dict):
            merged.update(value)
        config[full] = merged
    with pytest.raises(pulumi.RunError, match=message):
        mockrun.run_program("bad", config, recording=recording)
    assert recording.resources == []


def test_a_plaintext_hf_token_is_refused_before_registration() -> None:
    recording = mockrun.Recording()
    config = {**base_config(), "llmd-eks:hfToken": "hf_plain"}  # set without --secret
    with pytest.raises(pulumi.RunError, match="llmd-eks:hfToken: set it as a secret"):
        mockrun.run_program("plain-token", config, recording=recording)
    assert recording.resources == []


def test_the_program_reads_values_as_the_engine_passes_them() -> None:
    # The engine hands every top-level value over as a string: an unquoted
    # `phase: 1` in the stack file is "1", which the model accepts.
    raw = namespace_values(engine_values({"llmd-eks:phase": 1, "llmd-eks:model": {"replicas": 2}}), set())
    assert raw == {"phase": "1", "model": {"replicas": 2}}
    assert resolve(raw, "s", region="us-west-2").model.replicas == 2


@pytest.mark.parametrize("value", ["", "{not json"])
def test_odd_values_name_the_key_instead_of_crashing(value: str) -> None:
    with pytest.raises(ConfigError, match="llmd-eks:phase"):
        resolve(namespace_values({"llmd-eks:phase": value}, set()), "s", region="us-west-2")


def test_region_is_required_for_eks() -> None:
    with pytest.raises(ConfigError, match="aws:region: not set"):
        resolve({}, "s")


def test_guardrail_error_stops_the_program_before_registration() -> None:
    recording = mockrun.Recording()
    config = base_config(gpu={"instanceFamilies": ["g6e"], "maxGpus": 2, "dra": True})
    with pytest.raises(pulumi.RunError, match=r"\[GR-PHASE-DRA-PROVISIONER\] llmd-eks:gpu.dra"):
        mockrun.run_program("bad", config, recording=recording)
    assert recording.resources == []
