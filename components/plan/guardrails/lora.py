"""LoRA adapters: where they apply, and what s3:// sources need."""

from __future__ import annotations

from collections.abc import Iterator

from ...config import NAMESPACE, Settings
from .. import lora, modes
from . import Finding, Scope, Severity, rule

_KEY = f"{NAMESPACE}:model.loraAdapters"


def _sources(settings: Settings) -> str:
    return ", ".join(a.source for a in lora.s3_adapters(settings))


@rule("GR-SIM-LORA")
def simulator_serves_adapters_by_name_only(settings: Settings) -> Iterator[Finding]:
    if settings.model.simulate and settings.model.lora_adapters:
        yield Finding(
            "GR-SIM-LORA",
            Severity.WARNING,
            _KEY,
            "the simulator serves the LoRA adapters by name only: their sources are not fetched or checked "
            "(s3:// ones get no IAM access) until model.simulate is false.",
        )


@rule("GR-LORA-MAX-RANK")
def adapter_rank_above_vllms_default(settings: Settings) -> Iterator[Finding]:
    if modes.uses_gpus(settings) and settings.model.lora_adapters and not lora.sets_max_rank(settings):
        yield Finding(
            "GR-LORA-MAX-RANK",
            Severity.WARNING,
            _KEY,
            f"vLLM serves LoRA adapters up to rank {lora.VLLM_DEFAULT_MAX_RANK} unless {lora.MAX_RANK_FLAG} says "
            "otherwise and rejects one of a higher rank (`r` in its adapter_config.json) when it loads it: for "
            "model.loraAdapters at start, after the model weights, on GPU time.",
            f'add ["{lora.MAX_RANK_FLAG}", "<the highest r of your adapters: 8, 16, 32, 64, ...>"] to '
            f"model.extraArgs (also to silence this when every adapter is rank {lora.VLLM_DEFAULT_MAX_RANK} or less).",
        )


@rule("GR-LORA-S3-EKS")
def s3_adapters_need_this_programs_cluster(settings: Settings) -> Iterator[Finding]:
    if modes.existing_cluster(settings) and lora.fetches_from_s3(settings):
        yield Finding(
            "GR-LORA-S3-EKS",
            Severity.ERROR,
            _KEY,
            f"{_sources(settings)}: s3:// adapters are fetched with the EKS Pod Identity role this program gives the "
            "model servers on the cluster it creates; on an existing cluster (cluster.mode: existing) it creates "
            "no IAM, so the fetch would have no credentials.",
            "publish the adapters to Hugging Face and use hf://<org>/<repo> sources (with hfToken for private "
            "repositories), or deploy with cluster.mode: eks-auto.",
        )


@rule("GR-LORA-S3-REGION", scope=Scope.AWS)
def s3_adapters_need_a_region(settings: Settings) -> Iterator[Finding]:
    if lora.fetches_from_s3(settings) and not settings.region:
        yield Finding(
            "GR-LORA-S3-REGION",
            Severity.ERROR,
            _KEY,
            f"{_sources(settings)}: the fetch runs the AWS CLI in aws:region, which is not set.",
            "run `pulumi config set aws:region <region>`.",
        )
