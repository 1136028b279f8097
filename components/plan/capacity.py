"""Capacity planner: where replicas land, what each GPU holds, how many tokens fit.

Pure functions over the settings and the catalogues; the guardrails, the
``capacity`` stack output, the cost estimate and the offline plan all read
from here, so they cannot disagree.

Memory model (per GPU of a replica, as vLLM sizes it at start-up):
    usable   = gpuMemoryUtilization x GPU memory
    weights  = model weight bytes / tensorParallelism
    KV cache = usable - weights - runtime reserve
    tokens   = KV cache / KV bytes per token on that GPU
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ..catalog import instances, models
from ..catalog.instances import GpuInstanceType
from ..catalog.models import ModelSpec
from ..config import Settings

GIB = 1024**3
# vLLM keeps memory beyond weights and KV cache for the activation peak of a
# full batch, CUDA graphs and NCCL buffers; it measures that at start-up. 2 GiB
# per GPU is a conservative estimate at the default batch size.
RUNTIME_RESERVE_BYTES = 2 * GIB
DEFAULT_KV_DTYPE_BYTES = 2  # BF16/FP16 activations, including FP8-weight models
# Room on the node's disk for the vLLM image (CUDA, PyTorch, vLLM, NIXL: some
# 20 GB unpacked), its logs and the kubelet's own files.
IMAGE_ALLOWANCE_BYTES = 25 * GIB
# The kubelet evicts pods when less than 10% of the node's disk is free.
DISK_EVICTION_FRACTION = 0.10

# ``llmd-eks:model`` keys that describe the model -> ModelConfig/ModelSpec field.
MODEL_NUMBERS = {
    "parametersBillions": "parameters_billions",
    "bytesPerParameter": "bytes_per_parameter",
    "layers": "layers",
    "kvHeads": "kv_heads",
    "headDim": "head_dim",
    "experts": "experts",
}
REQUIRED_MODEL_NUMBERS = ("parametersBillions", "layers", "kvHeads", "headDim")  # bytesPerParameter defaults to 2


def gib(value: float) -> float:
    return round(value / GIB, 2)


# --- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec | None
    source: str  # catalogue | config | catalogue + config | unknown
    missing: tuple[str, ...] = ()  # model.<key>s to set when spec is None


def resolve_model(settings: Settings) -> ResolvedModel:
    """The catalogue entry for ``model.name`` with the numbers given in config on top."""
    cfg = settings.model
    overrides = {f: getattr(cfg, f) for f in MODEL_NUMBERS.values() if getattr(cfg, f) is not None}
    known = models.model(cfg.name)
    if known is not None:
        if not overrides:
            return ResolvedModel(known, "catalogue")
        return ResolvedModel(replace(known, **overrides), "catalogue + config")
    missing = tuple(key for key in REQUIRED_MODEL_NUMBERS if MODEL_NUMBERS[key] not in overrides)
    if missing:
        return ResolvedModel(None, "unknown", missing)
    spec = ModelSpec(
        name=cfg.name,
        parameters_billions=overrides["parameters_billions"],
        bytes_per_parameter=overrides.get("bytes_per_parameter", 2),
        layers=overrides["layers"],
        kv_heads=overrides["kv_heads"],
        head_dim=overrides["head_dim"],
        experts=overrides.get("experts"),
    )
    return ResolvedModel(spec, "config")


def kv_dtype_bytes(extra_args: list[str]) -> int:
    """Bytes per KV-cache element: FP8 when ``--kv-cache-dtype fp8*`` is among the vLLM args."""
    for index, arg in enumerate(extra_args):
        value = arg.split("=", 1)[1] if arg.startswith("--kv-cache-dtype=") else None
        if arg == "--kv-cache-dtype" and index + 1 < len(extra_args):
            value = extra_args[index + 1]
        if value is not None:
            return 1 if value.startswith("fp8") else DEFAULT_KV_DTYPE_BYTES
    return DEFAULT_KV_DTYPE_BYTES


# --- where replicas land ----------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    """A group of identical model-server replicas: decode, and prefill when disaggregated."""

    name: str
    replicas: int
    tensor_parallelism: int
    tp_key: str  # its config keys, for messages
    replicas_key: str


def peak_decode_replicas(settings: Settings) -> int:
    """Decode replicas at their most: ``autoscaling.maxReplicas`` when KEDA owns the count."""
    scaling = settings.config.autoscaling
    return scaling.max_replicas if scaling.enabled else settings.model.replicas


def roles(settings: Settings) -> list[Role]:
    """Model-server groups at peak (what the GPU budget and the cost must hold)."""
    model = settings.model
    replicas_key = "autoscaling.maxReplicas" if settings.config.autoscaling.enabled else "model.replicas"
    found = [
        Role(
            "decode", peak_decode_replicas(settings), model.tensor_parallelism, "model.tensorParallelism", replicas_key
        )
    ]
    prefill = settings.serving.prefill
    if settings.serving.path == "pd-disaggregation" and prefill is not None:
        found.append(
            Role(
                "prefill",
                prefill.replicas,
                prefill.tensor_parallelism,
                "serving.prefill.tensorParallelism",
                "serving.prefill.replicas",
            )
        )
    return found


def is_node_pool(settings: Settings) -> bool:
    """Karpenter-style capacity (Auto Mode or self-managed), limited by ``gpu.maxGpus``."""
    return settings.gpu.provisioner != "managed-node-group"


def pool_sizes(settings: Settings) -> tuple[GpuInstanceType, ...]:
    """The catalogued instance types the GPU capacity may launch."""
    gpu = settings.gpu
    if not is_node_pool(settings):
        return tuple(t for name in gpu.instance_types if (t := instances.instance_type(name)) is not None)
    return tuple(s for name in gpu.instance_families if (f := instances.family(name)) is not None for s in f.sizes)


def fitting_sizes(settings: Settings, tensor_parallelism: int) -> list[GpuInstanceType]:
    return [size for size in pool_sizes(settings) if size.gpus >= tensor_parallelism]


@dataclass(frozen=True)
class Placement:
    instance: GpuInstanceType
    replicas_per_node: int

    def nodes_for(self, replicas: int) -> int:
        return math.ceil(replicas / self.replicas_per_node)


def placement(settings: Settings, tensor_parallelism: int) -> Placement | None:
    """The node a replica lands on: Karpenter launches the cheapest type that
    fits, which is the smallest one holding the replica's GPUs (the first
    listed on a tie). None when no catalogued type holds a replica."""
    fits = fitting_sizes(settings, tensor_parallelism)
    if not fits:
        return None
    best = min(fits, key=lambda size: size.gpus)
    return Placement(best, best.gpus // tensor_parallelism)


def full_scale_nodes(settings: Settings, node: GpuInstanceType) -> int:
    """Nodes at full scale. Karpenter launches no node that would take the
    pool past its limit, so a partial node's worth of ``maxGpus`` stays unused."""
    if is_node_pool(settings):
        return settings.gpu.max_gpus // node.gpus
    return settings.gpu.max_nodes


# --- what each GPU holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaMemory:
    instance: GpuInstanceType  # the pool type with the least GPU memory that holds a replica
    usable_bytes_per_gpu: float
    weight_bytes_per_gpu: float
    kv_bytes_per_token_per_gpu: int
    max_model_len: int

    @property
    def weights_fit(self) -> bool:
        return self.weight_bytes_per_gpu <= self.usable_bytes_per_gpu

    @property
    def kv_bytes_per_gpu(self) -> float:
        return self.usable_bytes_per_gpu - self.weight_bytes_per_gpu - RUNTIME_RESERVE_BYTES

    @property
    def kv_tokens(self) -> int:
        """Tokens the KV cache of one replica holds (every GPU keeps its share of each token)."""
        return max(0, math.floor(self.kv_bytes_per_gpu / self.kv_bytes_per_token_per_gpu))

    @property
    def full_length_sequences(self) -> int:
        return self.kv_tokens // self.max_model_len


def replica_memory(settings: Settings, role: Role, model: ModelSpec) -> ReplicaMemory | None:
    """Memory of one replica on the tightest GPU the pool may give it (None if the pool has none)."""
    fits = fitting_sizes(settings, role.tensor_parallelism)
    if not fits:
        return None
    tightest = min(fits, key=lambda size: size.gpu.memory_mib)
    gpu_bytes = tightest.gpu.memory_mib * 1024**2
    tp = role.tensor_parallelism
    return ReplicaMemory(
        instance=tightest,
        usable_bytes_per_gpu=settings.model.gpu_memory_utilization * gpu_bytes,
        weight_bytes_per_gpu=model.weight_bytes / tp,
        kv_bytes_per_token_per_gpu=model.kv_bytes_per_token_per_gpu(tp, kv_dtype_bytes(settings.model.extra_args)),
        max_model_len=settings.model.max_model_len,
    )


# --- the ``capacity`` stack output ------------------------------------------------------------


def _role_capacity(settings: Settings, role: Role, model: ModelSpec) -> dict[str, Any]:
    memory = replica_memory(settings, role, model)
    if memory is None:
        return {
            "replicas": role.replicas,
            "tensorParallelism": role.tensor_parallelism,
            "instanceType": None,
            "note": "no catalogued instance type in the pool holds a replica",
        }
    return {
        "replicas": role.replicas,
        "tensorParallelism": role.tensor_parallelism,
        "instanceType": memory.instance.name,
        "gpu": memory.instance.gpu.model,
        "gpuMemoryGib": gib(memory.instance.gpu.memory_mib * 1024**2),
        "localNvmeGb": memory.instance.nvme_gb,
        "usableGibPerGpu": gib(memory.usable_bytes_per_gpu),
        "weightsGibPerGpu": gib(memory.weight_bytes_per_gpu),
        "weightsGibPerReplica": gib(model.weight_bytes),
        "runtimeReserveGibPerGpu": gib(RUNTIME_RESERVE_BYTES),
        "kvCacheGibPerReplica": gib(max(0.0, memory.kv_bytes_per_gpu) * role.tensor_parallelism),
        "kvCacheBytesPerTokenPerGpu": memory.kv_bytes_per_token_per_gpu,
        "kvCacheTokensPerReplica": memory.kv_tokens,
        "fullLengthSequencesPerReplica": memory.full_length_sequences,
        "fullLengthSequences": memory.full_length_sequences * role.replicas,
    }


def capacity(settings: Settings) -> dict[str, Any]:
    """Per role: weights, KV-cache bytes and tokens, and concurrent full-length
    sequences per replica and in total, on the tightest GPU the pool may use."""
    resolved = resolve_model(settings)
    summary: dict[str, Any] = {
        "model": settings.model.name,
        "modelSource": resolved.source,
        "maxModelLen": settings.model.max_model_len,
        "gpuMemoryUtilization": settings.model.gpu_memory_utilization,
        "kvCacheDtypeBytes": kv_dtype_bytes(settings.model.extra_args),
    }
    if resolved.spec is None:
        summary["missing"] = [f"model.{key}" for key in resolved.missing]
        return summary
    summary["weightsGib"] = gib(resolved.spec.weight_bytes)
    if resolved.spec.experts is not None:
        summary["experts"] = resolved.spec.experts
        summary["activeExperts"] = resolved.spec.active_experts
    for role in roles(settings):
        summary[role.name] = _role_capacity(settings, role, resolved.spec)
    return summary
