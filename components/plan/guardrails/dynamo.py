"""``serving.stack: dynamo`` (phase 3): what the Dynamo graph cannot run on.

Autoscaling, the S3 model cache and LoRA adapters are llm-d-only
(GR-OPERATIONS-LLMD-ONLY in ``autoscaling.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...config import Settings
from .. import dynamo
from . import Finding, Severity, key, rule


@rule("GR-DYNAMO-UNSUPPORTED")
def dynamo_needs_gpu_workers(settings: Settings) -> Iterator[Finding]:
    if not dynamo.enabled(settings):
        return
    unsupported = {
        "model.simulate": (settings.model.simulate, "the simulator stands in for llm-d's vLLM, not Dynamo's workers"),
        "gpu.dra": (
            bool(settings.gpu.dra),
            "Dynamo's workers request nvidia.com/gpu, which DRA nodes do not advertise",
        ),
    }
    for path, (requested, why) in unsupported.items():
        if requested:
            yield Finding(
                "GR-DYNAMO-UNSUPPORTED",
                Severity.ERROR,
                key(path),
                f"not available with serving.stack dynamo: {why}.",
                "turn it off, or use serving.stack llm-d.",
            )


@rule("GR-DYNAMO-GATEWAY")
def gateway_unused(settings: Settings) -> Iterator[Finding]:
    if dynamo.enabled(settings) and "gateway" in settings.serving.model_fields_set:
        yield Finding(
            "GR-DYNAMO-GATEWAY",
            Severity.WARNING,
            key("serving.gateway"),
            "ignored: Dynamo's own frontend serves the API (exposed per serving.exposure); no Gateway is deployed.",
            "remove serving.gateway.",
        )
