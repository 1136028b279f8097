"""Prefill/decode disaggregation: prefill workers configured, vLLM, and EFA for the KV transfer.

The prefill workers' GPUs count in GR-GPU-BUDGET and their tensor parallelism in
GR-TP-EXCEEDS-NODE (``gpu_budget.py``); prefill settings without this path are
GR-PHASE-PREFILL-PATH (``phases.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...config import Settings
from .. import efa
from . import Finding, Scope, Severity, key, rule


def _disaggregated(settings: Settings) -> bool:
    return settings.serving.path == "pd-disaggregation"


@rule("GR-PD-PREFILL")
def pd_needs_prefill_settings(settings: Settings) -> Iterator[Finding]:
    if _disaggregated(settings) and settings.serving.prefill is None:
        yield Finding(
            "GR-PD-PREFILL",
            Severity.ERROR,
            key("serving.prefill"),
            "serving.path pd-disaggregation needs prefill workers, and serving.prefill is not set, so neither "
            "their number nor their GPUs are known (nor counted against gpu.maxGpus).",
            "set serving.prefill {replicas, tensorParallelism} (phase 2a's preset does), or use path "
            "inference-scheduling.",
        )


@rule("GR-PD-SIMULATE")
def pd_needs_vllm(settings: Settings) -> Iterator[Finding]:
    if _disaggregated(settings) and settings.model.simulate:
        yield Finding(
            "GR-PD-SIMULATE",
            Severity.ERROR,
            key("model.simulate"),
            "pd-disaggregation moves KV caches between vLLM servers through NIXL, which the simulator does not run.",
            "use path inference-scheduling with model.simulate, or real GPUs.",
        )


@rule("GR-PD-EFA", scope=Scope.GPU_CAPACITY)
def kv_transfer_without_efa(settings: Settings) -> Iterator[Finding]:
    if _disaggregated(settings) and not efa.interfaces_per_gpu(settings):
        yield Finding(
            "GR-PD-EFA",
            Severity.WARNING,
            key("gpu.instanceFamilies"),
            "KV-cache transfer between prefill and decode runs over TCP: EFA (RDMA) needs self-managed "
            "Karpenter and only EFA families.",
            "for RDMA use phase 2a/3 with p4d, p4de, p5, p5e, p5en or p6-b200 only.",
        )
