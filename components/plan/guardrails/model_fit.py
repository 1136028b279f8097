"""The model against the GPUs and disks it lands on: weights, KV cache, context, download."""

from __future__ import annotations

import math
from collections.abc import Iterator

from ...config import Settings
from .. import modes
from ..capacity import (
    DISK_EVICTION_FRACTION,
    GIB,
    IMAGE_ALLOWANCE_BYTES,
    REQUIRED_MODEL_NUMBERS,
    gib,
    placement,
    replica_memory,
    resolve_model,
    roles,
)
from . import Finding, Scope, Severity, key, rule

# vLLM args that change the model's context limit (RoPE scaling).
_CONTEXT_OVERRIDE_ARGS = ("--rope-scaling", "--hf-overrides")


@rule("GR-MODEL-UNKNOWN", scope=Scope.GPU_CAPACITY)
def model_known(settings: Settings) -> Iterator[Finding]:
    resolved = resolve_model(settings)
    if resolved.spec is None:
        yield Finding(
            "GR-MODEL-UNKNOWN",
            Severity.WARNING,
            key("model.name"),
            f"{settings.model.name!r} is not in the model catalogue and model."
            f"{', model.'.join(resolved.missing)} are not set, so nothing checks that it fits the GPUs "
            "(weights, KV cache, context) before the nodes are paid for.",
            f"set model.{', model.'.join(REQUIRED_MODEL_NUMBERS)} (and bytesPerParameter if not BF16) from "
            "the model's config.json, or add it to components/catalog/models.py.",
        )


@rule("GR-MODEL-WEIGHTS", scope=Scope.GPU_CAPACITY)
def weights_fit(settings: Settings) -> Iterator[Finding]:
    model = resolve_model(settings).spec
    if model is None:
        return
    for role in roles(settings):
        memory = replica_memory(settings, role, model)
        if memory is None or memory.weights_fit:
            continue
        needed_tp = 2 ** math.ceil(math.log2(model.weight_bytes / memory.usable_bytes_per_gpu))
        yield Finding(
            "GR-MODEL-WEIGHTS",
            Severity.ERROR,
            key(role.tp_key),
            f"{model.name} weights take {gib(memory.weight_bytes_per_gpu)} GiB per GPU at {role.name} tensor "
            f"parallelism {role.tensor_parallelism}, more than the {gib(memory.usable_bytes_per_gpu)} GiB "
            f"vLLM may use on {memory.instance.gpu.model} ({memory.instance.name}, gpuMemoryUtilization "
            f"{settings.model.gpu_memory_utilization:g}): vLLM fails with CUDA out of memory after the download.",
            f"raise {role.tp_key} to {needed_tp} (if the instance has the GPUs), use a larger GPU, or a "
            "quantised model (FP8 halves the weights).",
        )


@rule("GR-MODEL-KV-CACHE", scope=Scope.GPU_CAPACITY)
def kv_cache_holds_a_sequence(settings: Settings) -> Iterator[Finding]:
    model = resolve_model(settings).spec
    if model is None:
        return
    max_len = settings.model.max_model_len
    for role in roles(settings):
        memory = replica_memory(settings, role, model)
        if memory is None or not memory.weights_fit or memory.kv_tokens >= max_len:
            continue
        fitting_len = memory.kv_tokens // 1024 * 1024
        shorter = f"lower model.maxModelLen to {fitting_len}, " if fitting_len else ""
        yield Finding(
            "GR-MODEL-KV-CACHE",
            Severity.ERROR,
            key("model.maxModelLen"),
            f"after the weights, a {role.name} replica of {model.name} on {memory.instance.name} keeps "
            f"{gib(max(0.0, memory.kv_bytes_per_gpu))} GiB per GPU of KV cache = {memory.kv_tokens} tokens, "
            f"less than one sequence of maxModelLen {max_len}: vLLM refuses to start.",
            f"{shorter}raise {role.tp_key} or model.gpuMemoryUtilization, or add --kv-cache-dtype fp8 to "
            "model.extraArgs.",
        )


@rule("GR-MODEL-CONTEXT")
def context_within_the_model(settings: Settings) -> Iterator[Finding]:
    model = resolve_model(settings).spec
    max_len = settings.model.max_model_len
    if not modes.uses_gpus(settings) or model is None or model.max_context is None or max_len <= model.max_context:
        return  # the simulator has no context limit
    if any(arg.split("=", 1)[0] in _CONTEXT_OVERRIDE_ARGS for arg in settings.model.extra_args):
        return  # RoPE scaling extends the context; vLLM checks it against the scaled limit
    yield Finding(
        "GR-MODEL-CONTEXT",
        Severity.ERROR,
        key("model.maxModelLen"),
        f"maxModelLen {max_len} is longer than {model.name}'s {model.max_context} positions "
        "(max_position_embeddings): vLLM refuses to start.",
        f"lower model.maxModelLen to {model.max_context} or less, or enable RoPE scaling "
        "(--hf-overrides in model.extraArgs) where the model supports it.",
    )


@rule("GR-MODEL-DISK", scope=Scope.GPU_CAPACITY)
def weights_fit_the_disk(settings: Settings) -> Iterator[Finding]:
    """Every model-server pod downloads the weights into its own emptyDir, so a
    node holds one copy per replica it runs (none when vLLM streams from S3)."""
    model = resolve_model(settings).spec
    if model is None:
        return
    places = [placement(settings, role.tensor_parallelism) for role in roles(settings)]
    copies = 0 if settings.config.model_cache.enabled else max((p.replicas_per_node for p in places if p), default=1)
    disk = settings.gpu.ephemeral_storage_gib * GIB
    usable = disk * (1 - DISK_EVICTION_FRACTION)
    needed = copies * model.weight_bytes + IMAGE_ALLOWANCE_BYTES
    if needed <= usable:
        return
    each = f"{copies} x " if copies > 1 else ""
    yield Finding(
        "GR-MODEL-DISK",
        Severity.ERROR,
        key("gpu.ephemeralStorage"),
        f"{model.name}'s model servers download {each}{gib(model.weight_bytes)} GiB of weights per node next to "
        f"a ~{gib(IMAGE_ALLOWANCE_BYTES)} GiB vLLM image, more than the {gib(usable)} GiB the kubelet leaves usable "
        f"on a {settings.gpu.ephemeral_storage} node disk: pods are evicted mid-download, after the GPU node "
        "has billed for them.",
        f"set gpu.ephemeralStorage to at least {int(gib(needed / (1 - DISK_EVICTION_FRACTION))) + 1}Gi "
        "(or stream the weights from S3 with modelCache.enabled).",
    )
