"""``model.extraArgs`` must not repeat a flag the program or the chart already sets.

The modelservice chart runs ``vllm serve <model> --port … --tensor-parallel-size …
--served-model-name …`` and appends our arguments, then ``extraArgs``; vLLM keeps the
last value it reads. An override would leave probes, the Service, the InferencePool
and the capacity planner on values vLLM no longer uses.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...config import Settings
from .. import modes, pd
from . import Finding, Severity, key, rule

# flag -> where its value comes from
ALWAYS_MANAGED = {
    "--port": "the chart (8000, 8200 behind the routing sidecar); probes and the InferencePool use it",
    "--host": "the image's default, which the Service reaches",
    "--model": "model.name",
    "--served-model-name": "model.name",
    "--tensor-parallel-size": "model.tensorParallelism",
    "-tp": "model.tensorParallelism",
    "--data-parallel-size": "model.replicas (one Deployment replica per data-parallel rank)",
    "--data-parallel-size-local": "model.replicas (one Deployment replica per data-parallel rank)",
    "--max-model-len": "model.maxModelLen",
    "--gpu-memory-utilization": "model.gpuMemoryUtilization",
}


def managed_flags(settings: Settings) -> dict[str, str]:
    """Flags this stack's model servers already receive, and the key that sets them."""
    managed = dict(ALWAYS_MANAGED)
    if pd.enabled(settings):
        managed["--kv-transfer-config"] = "serving.path pd-disaggregation (the NIXL connector)"
    if settings.config.model_cache.enabled:
        managed["--load-format"] = "modelCache.enabled (runai_streamer from S3)"
    if settings.model.lora_adapters:
        for flag in ("--enable-lora", "--lora-modules", "--max-loras"):
            managed[flag] = "model.loraAdapters"
    return managed


@rule("GR-MODEL-EXTRA-ARGS-MANAGED")
def extra_args_do_not_override(settings: Settings) -> Iterator[Finding]:
    if not modes.uses_gpus(settings):
        return  # the simulator gets no extraArgs (GR-SIM-EXTRA-ARGS)
    managed = managed_flags(settings)
    for arg in settings.model.extra_args:
        flag = arg.split("=", 1)[0]
        if flag in managed:
            yield Finding(
                "GR-MODEL-EXTRA-ARGS-MANAGED",
                Severity.ERROR,
                key("model.extraArgs"),
                f"{flag} is already set from {managed[flag]}; vLLM would take the later value from extraArgs "
                "and the rest of the stack would not know it.",
                f"remove {flag} from model.extraArgs and set it through {managed[flag].split(' ', 1)[0]}.",
            )
