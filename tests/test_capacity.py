"""Capacity planner and cost estimate, worked out by hand for the seed's default deployment."""

from __future__ import annotations

import pytest

from components.catalog import instances, models, prices
from components.plan import capacity, cost
from tests.conftest import stack_settings

MIB = 1024**2
GIB = 1024**3


def test_qwen3_32b_bf16_on_h100_tp2_by_hand() -> None:
    """Qwen3-32B: 32.8B parameters in BF16, 64 layers, 8 KV heads of 128.
    H100 80GB: nvidia-smi reports 81559 MiB. TP=2, gpuMemoryUtilization 0.90."""
    usable = 0.90 * 81559 * MIB  # 73403.1 MiB = 71.68 GiB per GPU
    weights = 32.8e9 * 2 / 2  # 32.8 GB = 30.55 GiB per GPU (65.6 GB = 61.09 GiB per replica)
    reserve = 2 * GIB  # activations, CUDA graphs, NCCL
    kv = usable - weights - reserve  # 40074.6 MiB = 39.14 GiB per GPU
    per_token = 2 * 64 * (8 // 2) * 128 * 2  # K+V x layers x 4 heads per GPU x head_dim x BF16 = 128 KiB
    tokens = int(kv // per_token)  # 320,596 tokens per replica (each GPU holds its half of every token)
    assert (round(kv / MIB, 1), per_token, tokens, tokens // 32768) == (40074.6, 131072, 320596, 9)

    out = capacity.capacity(stack_settings("prod"))
    decode = out["decode"]
    assert (out["model"], out["modelSource"], out["weightsGib"]) == ("Qwen/Qwen3-32B", "catalogue", 61.09)
    assert (decode["instanceType"], decode["gpu"], decode["tensorParallelism"]) == ("p5.48xlarge", "H100 80GB", 2)
    assert decode["usableGibPerGpu"] == 71.68
    assert decode["weightsGibPerGpu"] == 30.55
    assert decode["kvCacheGibPerReplica"] == round(2 * kv / GIB, 2) == 78.27
    assert decode["kvCacheBytesPerTokenPerGpu"] == per_token
    assert decode["kvCacheTokensPerReplica"] == tokens
    assert decode["fullLengthSequencesPerReplica"] == 9
    assert decode["fullLengthSequences"] == 9 * 8


def test_prod_costs_what_the_seed_says() -> None:
    """Seed 000: p5.48xlarge $98.32/h in us-west-2; two for a month ~ $141,580."""
    estimate = cost.cost_estimate(stack_settings("prod"))
    for scenario in ("fullScale", "configuredReplicas"):
        assert estimate[scenario]["nodes"] == {"p5.48xlarge": 2}
        assert estimate[scenario]["gpus"] == 16
        assert estimate[scenario]["onDemand"] == {"hourlyUsd": 196.64, "thirtyDaysUsd": 141580.8}
    on_demand = estimate["prices"]["onDemand"]["p5.48xlarge"]
    assert on_demand["usdPerHour"] == 98.32 and "us-west-2" in on_demand["source"]
    # No us-west-2 spot price is recorded: the estimate says where its figure is from.
    assert "us-east-2" in estimate["prices"]["spot"]["p5.48xlarge"]["source"]
    assert estimate["fullScale"]["spot"] == {"hourlyUsd": 25.0, "thirtyDaysUsd": 18000.0}


def test_cost_at_configured_replicas_and_full_scale_differ() -> None:
    settings = stack_settings("prod", model={"replicas": 2}, gpu={"maxGpus": 24})
    estimate = cost.cost_estimate(settings)
    assert estimate["configuredReplicas"]["nodes"] == {"p5.48xlarge": 1}
    assert estimate["fullScale"]["nodes"] == {"p5.48xlarge": 3}
    assert estimate["fullScale"]["onDemand"]["hourlyUsd"] == round(3 * 98.32, 2)


def test_prefill_nodes_are_costed_separately() -> None:
    settings = stack_settings("prod", phase="2a", gpu={"maxGpus": 24})
    configured = cost.cost_estimate(settings)["configuredReplicas"]
    assert configured["nodes"] == {"p5.48xlarge": 3}  # 8 decode x TP2 on 2 nodes + 2 prefill x TP4 on 1
    assert set(capacity.capacity(settings)) >= {"decode", "prefill"}


def test_unpriced_instances_are_unknown_not_guessed() -> None:
    estimate = cost.cost_estimate(stack_settings("dev"))
    assert estimate["configuredReplicas"]["nodes"] == {"g6e.xlarge": 2}
    assert estimate["configuredReplicas"]["onDemand"] is None
    assert estimate["prices"]["onDemand"] == {"g6e.xlarge": None}


def test_unknown_model_capacity_names_the_missing_keys() -> None:
    out = capacity.capacity(stack_settings("prod", model={"name": "acme/Mystery-13B", "layers": 40}))
    assert out["modelSource"] == "unknown"
    assert out["missing"] == ["model.parametersBillions", "model.kvHeads", "model.headDim"]


def test_mla_and_replicated_kv_heads() -> None:
    r1 = models.model("deepseek-ai/DeepSeek-R1")
    assert r1 is not None
    # MLA: one 576-wide latent per layer on every rank, whatever the TP.
    assert r1.kv_bytes_per_token_per_gpu(8, 2) == r1.kv_bytes_per_token_per_gpu(1, 2) == 61 * 576 * 2
    moe = models.model("Qwen/Qwen3-30B-A3B")
    assert moe is not None
    # 4 KV heads over 8 ranks: each rank keeps one (replicated).
    assert moe.kv_bytes_per_token_per_gpu(8, 2) == 2 * 48 * 1 * 128 * 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [([], 2), (["--kv-cache-dtype", "fp8"], 1), (["--kv-cache-dtype=fp8_e5m2"], 1), (["--kv-cache-dtype", "auto"], 2)],
)
def test_kv_cache_dtype_from_vllm_args(args: list[str], expected: int) -> None:
    assert capacity.kv_dtype_bytes(args) == expected


def test_catalogues_cover_what_the_issue_asks() -> None:
    names = set(models.MODELS)
    for required in (
        "qwen/qwen3-8b",
        "qwen/qwen3-32b",
        "qwen/qwen3-235b-a22b",
        "meta-llama/llama-3.1-8b-instruct",
        "meta-llama/llama-3.3-70b-instruct",
        "mistralai/mistral-7b-instruct-v0.3",
        "deepseek-ai/deepseek-r1",
        "openai/gpt-oss-120b",
        "openai/gpt-oss-20b",
    ):
        assert required in names
    assert models.model("QWEN/qwen3-32B") is models.model("Qwen/Qwen3-32B"), "repo ids are case-insensitive"
    assert models.model("openai/gpt-oss-120b").weight_bytes / GIB == pytest.approx(60.8)  # type: ignore[union-attr]
    for family in instances.FAMILIES.values():
        assert family.sizes and all(size.family == family.name for size in family.sizes)
    assert instances.family("p5").auto_mode == "supported"  # type: ignore[union-attr]
    assert instances.family("p6-b200").auto_mode == "unsupported"  # type: ignore[union-attr]
    for row in prices.PRICES:
        assert instances.instance_type(row.instance_type) is not None, row
        assert row.source and len(row.as_of) == 7
