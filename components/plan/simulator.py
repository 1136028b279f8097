"""llm-d's vLLM simulator as the model server (``model.simulate``).

It serves the OpenAI-compatible API and vLLM's metric names from CPU pods, so the
gateway, the endpoint picker, the route and the metrics work without GPUs.
"""

from __future__ import annotations

from ..config import Settings
from . import lora
from .names import MODEL_SERVER_PORT

# The simulator asks Hugging Face whether --model exists; if it does, it needs a
# tokenizer sidecar and network access. "--" is not allowed in Hugging Face repo
# ids, so this name never exists: the built-in tokenizer is used and nothing is
# downloaded. Clients keep using the configured name (--served-model-name).
OFFLINE_MODEL_ID = "llmd-eks--simulated"
# The image's entrypoint: the chart's "custom" model command needs it spelled out,
# and only "custom" keeps the chart from adding vLLM flags the simulator rejects.
ENTRYPOINT = ["/app/llm-d-inference-sim"]
RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
# The inferencepool chart sizes the endpoint picker for high QPS (4 CPUs, 8Gi);
# test traffic against simulators needs a fraction, and a kind node has 4 CPUs in all.
EPP_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}}
READY_TIMEOUT_S = 15 * 60  # a CPU node (Auto Mode) or an image pull (kind), no weights


def args(settings: Settings) -> list[str]:
    model = settings.model
    latency = model.simulator
    return [
        "--model",
        OFFLINE_MODEL_ID,
        "--served-model-name",
        model.name,
        "--port",
        str(MODEL_SERVER_PORT),
        "--max-model-len",
        str(model.max_model_len),
        "--time-to-first-token",
        f"{latency.time_to_first_token_ms}ms",
        "--inter-token-latency",
        f"{latency.inter_token_latency_ms}ms",
        # Last: the simulator takes every argument after --lora-modules up to the next flag.
        *lora.simulator_args(settings),
    ]
