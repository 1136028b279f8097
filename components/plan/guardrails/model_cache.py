"""S3 model cache: what it needs to name and reach its bucket."""

from __future__ import annotations

from collections.abc import Iterator

from ...config import NAMESPACE, Settings
from .. import modes
from . import Finding, Severity, rule


@rule("GR-MODELCACHE-REGION")
def model_cache_needs_a_region(settings: Settings) -> Iterator[Finding]:
    if settings.config.model_cache.enabled and not settings.region:
        yield Finding(
            "GR-MODELCACHE-REGION",
            Severity.ERROR,
            f"{NAMESPACE}:modelCache.enabled",
            "the bucket lives in aws:region, which is not set; run `pulumi config set aws:region <region>`.",
        )


@rule("GR-MODELCACHE-EKS-VLLM")
def model_cache_needs_eks_and_vllm(settings: Settings) -> Iterator[Finding]:
    if not settings.config.model_cache.enabled:
        return
    if modes.existing_cluster(settings):
        yield Finding(
            "GR-MODELCACHE-EKS-VLLM",
            Severity.ERROR,
            f"{NAMESPACE}:modelCache.enabled",
            "the model cache grants S3 access through an EKS Pod Identity association on the cluster this program "
            "creates; on an existing cluster (cluster.mode: existing) set modelCache.enabled: false.",
        )
    if not modes.uses_gpus(settings):
        yield Finding(
            "GR-MODELCACHE-EKS-VLLM",
            Severity.ERROR,
            f"{NAMESPACE}:modelCache.enabled",
            "the simulator (model.simulate: true) loads no weights; set modelCache.enabled: false.",
        )
