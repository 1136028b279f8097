"""EKS Pod Identity: the trust policy and the model servers' single association.

On EKS Auto Mode pods cannot borrow the node role (IMDS hop limit 1), so pods
that read S3 get a role through EKS Pod Identity. EKS allows one association
per namespace and ServiceAccount: the model cache and ``s3://`` LoRA adapters
share one role for the model-server ServiceAccount, each adding its own policy.
"""

from __future__ import annotations

from ..config import Settings
from . import lora, modes
from .names import RELEASES, modelservice_fullname


def model_server_service_account() -> str:
    """llm-d-modelservice ``pdServiceAccountName``: its fullname unless ``serviceAccountOverride`` is set."""
    return modelservice_fullname(RELEASES.modelservice)


def model_servers_read_s3(settings: Settings) -> bool:
    """The model servers need AWS credentials: weights from the model cache or ``s3://`` adapters.

    Only on the EKS cluster this program creates (guardrails refuse both elsewhere).
    """
    if not modes.creates_aws_resources(settings):
        return False
    return settings.config.model_cache.enabled or lora.fetches_from_s3(settings)
