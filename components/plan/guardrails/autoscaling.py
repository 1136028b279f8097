"""Queue-depth autoscaling: bounds within the GPU budget, and what the triggers need."""

from __future__ import annotations

from collections.abc import Iterator

from ...config import NAMESPACE, Settings
from .. import modes
from . import Finding, Severity, rule


def prefill_gpus(settings: Settings) -> int:
    """GPUs the (not autoscaled) prefill servers hold in prefill/decode disaggregation."""
    prefill = settings.serving.prefill
    if settings.serving.path != "pd-disaggregation" or prefill is None:
        return 0
    return prefill.replicas * prefill.tensor_parallelism


@rule("GR-AUTOSCALING-GPU-BUDGET")
def max_replicas_within_gpu_budget(settings: Settings) -> Iterator[Finding]:
    scaling = settings.config.autoscaling
    # gpu.maxGpus bounds only the GPU capacity this program creates (not the simulator's, not an existing cluster's).
    if not scaling.enabled or not modes.creates_gpu_capacity(settings):
        return
    per_replica = settings.model.tensor_parallelism
    reserved = prefill_gpus(settings)
    needed = scaling.max_replicas * per_replica + reserved
    budget = settings.gpu.max_gpus
    if needed > budget:
        fits = max((budget - reserved) // per_replica, 0)
        prefill = f" + {reserved} prefill GPUs" if reserved else ""
        yield Finding(
            "GR-AUTOSCALING-GPU-BUDGET",
            Severity.ERROR,
            f"{NAMESPACE}:autoscaling.maxReplicas",
            f"{scaling.max_replicas} replicas x {per_replica} GPUs{prefill} = {needed} GPUs, more than "
            f"gpu.maxGpus ({budget}): replicas above the budget would stay Pending on GPU nodes that are never "
            f"allowed. Set autoscaling.maxReplicas to at most {fits} or raise gpu.maxGpus to {needed}.",
        )


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
