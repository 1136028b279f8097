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
