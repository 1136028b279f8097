"""Queue-depth autoscaling: bounds within the GPU budget, and what the triggers need."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ...config import NAMESPACE, Settings
from ..capacity import is_node_pool
from . import Finding, Scope, Severity, rule
from .gpu_budget import gpus_at_peak


def prefill_gpus(settings: Settings) -> int:
    """GPUs the (not autoscaled) prefill servers hold in prefill/decode disaggregation."""
    prefill = settings.serving.prefill
    if settings.serving.path != "pd-disaggregation" or prefill is None:
        return 0
    return prefill.replicas * prefill.tensor_parallelism


@rule("GR-AUTOSCALING-GPU-BUDGET", scope=Scope.GPU_CAPACITY)
def max_replicas_within_gpu_budget(settings: Settings) -> Iterator[Finding]:
    """The peak (maxReplicas, and prefill), in whole nodes as GR-GPU-BUDGET counts them."""
    scaling = settings.config.autoscaling
    if not scaling.enabled or not is_node_pool(settings):
        return
    budget = settings.gpu.max_gpus
    requested, occupied = gpus_at_peak(settings)
    if occupied <= budget:
        return
    per_replica = settings.model.tensor_parallelism
    reserved = prefill_gpus(settings)
    fits = next(
        (n for n in range(scaling.max_replicas - 1, -1, -1) if gpus_at_peak(_with_max(settings, n))[1] <= budget), 0
    )
    prefill = f" + {reserved} prefill GPUs" if reserved else ""
    whole_nodes = f" ({occupied} counted in whole nodes)" if occupied != requested else ""
    yield Finding(
        "GR-AUTOSCALING-GPU-BUDGET",
        Severity.ERROR,
        f"{NAMESPACE}:autoscaling.maxReplicas",
        f"{scaling.max_replicas} replicas x {per_replica} GPUs{prefill} = {requested} GPUs{whole_nodes}, more "
        f"than gpu.maxGpus ({budget}): replicas above the budget would stay Pending on GPU nodes that are never "
        f"allowed. Set autoscaling.maxReplicas to at most {fits} or raise gpu.maxGpus to {occupied}.",
    )


def _with_max(settings: Settings, max_replicas: int) -> Settings:
    scaling = settings.config.autoscaling.model_copy(update={"max_replicas": max_replicas})
    return replace(settings, config=settings.config.model_copy(update={"autoscaling": scaling}))


@rule("GR-AUTOSCALING-NEEDS-OBSERVABILITY")
def autoscaling_needs_prometheus(settings: Settings) -> Iterator[Finding]:
    cfg = settings.config
    if cfg.autoscaling.enabled and not cfg.observability.enabled:
        yield Finding(
            "GR-AUTOSCALING-NEEDS-OBSERVABILITY",
            Severity.ERROR,
            f"{NAMESPACE}:autoscaling.enabled",
            "the queue-depth trigger reads vllm:num_requests_waiting from the Prometheus that observability "
            "deploys; set observability.enabled: true or autoscaling.enabled: false.",
        )


@rule("GR-AUTOSCALING-FROM-ZERO")
def no_scale_from_zero_on_queue_depth(settings: Settings) -> Iterator[Finding]:
    scaling = settings.config.autoscaling
    if not scaling.enabled:
        return
    if scaling.min_replicas == 0:
        yield Finding(
            "GR-AUTOSCALING-FROM-ZERO",
            Severity.ERROR,
            f"{NAMESPACE}:autoscaling.minReplicas",
            "0 would never come back: the queue depth is reported by the model servers themselves, so with no "
            "replica there is no queue to scale on. Set minReplicas >= 1 (use offPeak.replicas: 0 for quiet hours).",
        )
    elif scaling.off_peak is not None and scaling.off_peak.replicas == 0:
        yield Finding(
            "GR-AUTOSCALING-FROM-ZERO",
            Severity.WARNING,
            f"{NAMESPACE}:autoscaling.offPeak.replicas",
            f"0 off-peak replicas: requests fail from {scaling.off_peak.start!r} until the peak window "
            f"({scaling.off_peak.end!r}) brings {scaling.min_replicas} replicas back (plus the model load time).",
        )


@rule("GR-OPERATIONS-LLMD-ONLY")
def operations_need_llmd_model_servers(settings: Settings) -> Iterator[Finding]:
    if settings.serving.stack == "llm-d":
        return
    cfg = settings.config
    for key, requested in (
        ("autoscaling.enabled", cfg.autoscaling.enabled),
        ("modelCache.enabled", cfg.model_cache.enabled),
        ("model.loraAdapters", bool(cfg.model.lora_adapters)),
    ):
        if requested:
            yield Finding(
                "GR-OPERATIONS-LLMD-ONLY",
                Severity.ERROR,
                f"{NAMESPACE}:{key}",
                f"applies to llm-d's model servers, not serving.stack {settings.serving.stack}; turn it off.",
            )
