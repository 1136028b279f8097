"""Models the capacity planner knows, as data.

Source: each Hugging Face repository's ``config.json`` (``num_hidden_layers``,
``num_key_value_heads``, ``head_dim``, ``max_position_embeddings``, experts)
and model card (parameter count, weight dtype), recorded 2026-11. A model not
listed here can be described in ``llmd-eks:model`` (parametersBillions,
bytesPerParameter, layers, kvHeads, headDim, experts).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


# Hugging Face organisations whose models are gated (their pages ask to accept terms
# before download; checked on huggingface.co model pages, 2026): a token is required.
GATED_ORGANISATIONS = frozenset({"meta-llama", "mistralai", "google"})


@dataclass(frozen=True)
class ModelSpec:
    name: str  # Hugging Face repo id
    parameters_billions: float  # total, all experts included
    bytes_per_parameter: float  # weights as stored: BF16 2, FP8 1, MXFP4 checkpoints ~0.56
    layers: int
    kv_heads: int
    head_dim: int
    max_context: int | None = None  # max_position_embeddings: vLLM refuses a longer --max-model-len
    experts: int | None = None  # routed experts of a mixture-of-experts model
    active_experts: int | None = None  # experts per token
    # Multi-head latent attention (DeepSeek): K and V share one compressed
    # latent (kv_lora_rank + qk_rope_head_dim) that every TP rank keeps whole.
    mla_latent_dim: int | None = None

    @property
    def weight_bytes(self) -> float:
        return self.parameters_billions * 1e9 * self.bytes_per_parameter

    def kv_bytes_per_token_per_gpu(self, tensor_parallelism: int, kv_dtype_bytes: int) -> int:
        """KV-cache bytes one token takes on each GPU of a replica.

        GQA: K and V (2) x layers x the KV heads this rank holds x head_dim.
        With more ranks than KV heads vLLM replicates heads, so a rank holds at
        least one. MLA keeps the whole latent on every rank.
        """
        if self.mla_latent_dim is not None:
            return self.layers * self.mla_latent_dim * kv_dtype_bytes
        heads_per_gpu = max(1, self.kv_heads // tensor_parallelism)
        return 2 * self.layers * heads_per_gpu * self.head_dim * kv_dtype_bytes


def _qwen3(size: str, params: float, layers: int, kv_heads: int, **moe: int) -> ModelSpec:
    return ModelSpec(f"Qwen/Qwen3-{size}", params, 2, layers, kv_heads, 128, max_context=40960, **moe)


def _fp8(spec: ModelSpec) -> ModelSpec:
    """The authors' FP8 (block-quantised) release of a BF16 model."""
    return ModelSpec(
        f"{spec.name}-FP8",
        spec.parameters_billions,
        1,
        spec.layers,
        spec.kv_heads,
        spec.head_dim,
        spec.max_context,
        spec.experts,
        spec.active_experts,
    )


def _llama(name: str, params: float, layers: int, max_context: int = 131072) -> ModelSpec:
    return ModelSpec(name, params, 2, layers, 8, 128, max_context=max_context)


_QWEN3 = [
    _qwen3("0.6B", 0.6, 28, 8),
    _qwen3("1.7B", 1.7, 28, 8),
    _qwen3("4B", 4.0, 36, 8),
    _qwen3("8B", 8.2, 36, 8),
    _qwen3("14B", 14.8, 40, 8),
    _qwen3("32B", 32.8, 64, 8),
    _qwen3("30B-A3B", 30.5, 48, 4, experts=128, active_experts=8),
    _qwen3("235B-A22B", 235.0, 94, 4, experts=128, active_experts=8),
]
_QWEN3_BY_SIZE = {spec.name.removeprefix("Qwen/Qwen3-"): spec for spec in _QWEN3}

_CATALOGUE: list[ModelSpec] = [
    *_QWEN3,
    _fp8(_QWEN3_BY_SIZE["8B"]),
    _fp8(_QWEN3_BY_SIZE["32B"]),
    _fp8(_QWEN3_BY_SIZE["30B-A3B"]),
    _fp8(_QWEN3_BY_SIZE["235B-A22B"]),
    _llama("meta-llama/Llama-3.1-8B", 8.03, 32),
    _llama("meta-llama/Llama-3.1-8B-Instruct", 8.03, 32),
    _llama("meta-llama/Llama-3.1-70B", 70.6, 80),
    _llama("meta-llama/Llama-3.1-70B-Instruct", 70.6, 80),
    _llama("meta-llama/Llama-3.3-70B-Instruct", 70.6, 80),
    _llama("meta-llama/Meta-Llama-3-8B-Instruct", 8.03, 32, max_context=8192),
    _llama("meta-llama/Meta-Llama-3-70B-Instruct", 70.6, 80, max_context=8192),
    ModelSpec("mistralai/Mistral-7B-v0.3", 7.25, 2, 32, 8, 128, max_context=32768),
    ModelSpec("mistralai/Mistral-7B-Instruct-v0.3", 7.25, 2, 32, 8, 128, max_context=32768),
    # DeepSeek-R1: FP8 weights; 671B without the 14B multi-token-prediction
    # layer vLLM loads only for speculative decoding. Its 128 KV heads are
    # compressed by MLA into a 512 + 64 latent, which is what vLLM caches.
    *(
        ModelSpec(name, 671.0, 1, 61, 128, 128, 163840, experts=256, active_experts=8, mla_latent_dim=576)
        for name in ("deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-R1-0528")
    ),
    ModelSpec("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", 32.5, 2, 64, 8, 128, max_context=131072),
    _llama("deepseek-ai/DeepSeek-R1-Distill-Llama-70B", 70.6, 80),
    _llama("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", 8.03, 32),
    # gpt-oss: MXFP4 expert weights, BF16 attention; bytes per parameter is
    # the published checkpoint size over the parameter count (60.8 GiB for
    # 116.8B, 12.8 GiB for 20.9B). Sliding-window layers are counted as full
    # attention, which understates the KV-cache tokens a little.
    ModelSpec("openai/gpt-oss-120b", 116.8, 60.8 * GIB / 116.8e9, 36, 8, 64, 131072, experts=128, active_experts=4),
    ModelSpec("openai/gpt-oss-20b", 20.9, 12.8 * GIB / 20.9e9, 24, 8, 64, 131072, experts=32, active_experts=4),
]

# Hugging Face resolves repo ids case-insensitively.
MODELS: dict[str, ModelSpec] = {spec.name.lower(): spec for spec in _CATALOGUE}


def model(name: str) -> ModelSpec | None:
    return MODELS.get(name.lower())
