"""EKS Pod Identity: the trust policy, the model servers' single association, the node agent.

On EKS Auto Mode pods cannot borrow the node role (IMDS hop limit 1), so pods
that read S3 get a role through EKS Pod Identity. EKS allows one association
per namespace and ServiceAccount: the model cache and ``s3://`` LoRA adapters
share one role for the model-server ServiceAccount, each adding its own policy.

A pod gets its credentials from an agent on its node. Auto Mode nodes run one
themselves; the GPU nodes of phases 2a, 3 (self-managed Karpenter) and 2b (a
managed node group) have it only as the ``eks-pod-identity-agent`` EKS add-on
(``node_addons.py``). What its default placement does, which the program relies
on (sources: tests/reference_extra/eks-pod-identity-agent-v0.1.37/PROVENANCE):

- it tolerates every taint (``operator: Exists``, the add-on's default since
  v1.2.0-eksbuild.1), so it runs on the GPU nodes despite their
  ``nvidia.com/gpu`` NoSchedule taint; no configuration values are set;
- its node affinity excludes ``eks.amazonaws.com/compute-type`` ``auto``
  (and Fargate, hybrid): Auto Mode nodes keep their own agent, and the other
  Pod Identity users (Karpenter's controller, Cluster Autoscaler, the model
  cache's copy Job) run there.
"""

from __future__ import annotations

from ..config import Settings
from . import lora, modes
from .names import RELEASES, modelservice_fullname

AGENT_ADDON = "eks-pod-identity-agent"


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
