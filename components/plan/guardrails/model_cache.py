"""S3 model cache: what it needs to name and reach its bucket."""

from __future__ import annotations

from collections.abc import Iterator

from ...config import NAMESPACE, Settings
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
