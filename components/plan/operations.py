"""Day-2 overlays on the llm-d Helm values, keyed on settings only.

The llm-d values builders (whatever the phase: decode only, or prefill and
decode) call these last, so observability, the S3 model cache and LoRA
(with the fetch of s3:// adapters) apply to every model-server role and every
vLLM container they produced.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import versions
from ..config import Settings
from . import lora, model_cache, modes, observability

MODEL_SERVER_ROLES = ("decode", "prefill")
VLLM_CONTAINER = "vllm"


def _vllm_containers(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in role.get("containers", []) if c.get("name") == VLLM_CONTAINER]


def apply_to_modelservice(values: dict[str, Any], settings: Settings, model_bucket: str | None) -> dict[str, Any]:
    """``values`` with monitoring, S3 weights and LoRA added to each created role.

    ``model_bucket`` is the cache bucket's name when ``modelCache.enabled``.
    """
    cfg = settings.config
    if cfg.model_cache.enabled and model_bucket is None:
        raise ValueError("modelCache is enabled but no bucket name was given")
    out = copy.deepcopy(values)
    # LoRA and S3 weights are vLLM flags; the simulator (model.simulate) gets monitoring only.
    vllm = modes.uses_gpus(settings)
    args = lora.vllm_args(settings) if vllm else []
    env = lora.vllm_env(settings) if vllm else []
    cache = cfg.model_cache.enabled and vllm
    fetch_adapters = lora.fetches_from_s3(settings)  # never for the simulator
    if cache:
        assert model_bucket is not None
        out["modelArtifacts"]["uri"] = model_cache.model_uri(settings, model_bucket)
        args = [*model_cache.vllm_args(settings, model_bucket), *args]
        env = [*model_cache.vllm_env(settings), *env]
    for role_name in MODEL_SERVER_ROLES:
        role = out.get(role_name, {})
        if not role.get("create"):
            continue
        if cfg.observability.enabled:
            role["monitoring"] = {"podmonitor": observability.pod_monitor_values()}
        if fetch_adapters:
            role["initContainers"] = [*role.get("initContainers", []), *lora.fetch_init_containers(settings)]
            role["volumes"] = [*role.get("volumes", []), lora.adapters_volume()]
        for container in _vllm_containers(role):
            container["args"] = [*container.get("args", []), *args]
            if env:
                container["env"] = [*container.get("env", []), *env]
            if cache:
                # The chart creates no model volume for s3://; a mount would point at nothing.
                container["mountModelVolume"] = False
            if fetch_adapters:
                container["volumeMounts"] = [*container.get("volumeMounts", []), lora.adapters_mount()]
    return out


def apply_to_inferencepool(values: dict[str, Any], settings: Settings) -> dict[str, Any]:
    out = copy.deepcopy(values)
    if settings.config.observability.enabled:
        out["inferenceExtension"]["monitoring"] = observability.epp_monitoring_values()
    return out


def deployed_versions(settings: Settings) -> dict[str, str]:
    cfg = settings.config
    return versions.OPERATIONS.deployed(
        observability=cfg.observability.enabled,
        autoscaling=cfg.autoscaling.enabled,
        model_cache=cfg.model_cache.enabled,
        adapter_fetch=lora.fetches_from_s3(settings),
    )
