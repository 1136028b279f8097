"""Names the charts derive, computed the way their templates do.

The HTTPRoute and the outputs refer to objects the Helm releases create, so
their names must match the charts' helpers exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import Settings

GATEWAY_LISTENER_PORT = 80  # llm-d-infra's default listener
MODEL_SERVER_PORT = 8000  # llm-d-modelservice routing.servicePort
GPU_RESOURCE = "nvidia.com/gpu"
GPU_NODEPOOL = "llmd-gpu"  # Auto Mode NodePool and NodeClass
# Self-managed Karpenter's NodePool and EC2NodeClass. A different name than the Auto Mode
# pool: both are karpenter.sh/v1 NodePools, and a phase change creates one before deleting the other.
KARPENTER_GPU_NODEPOOL = "llmd-gpu-karpenter"
HF_TOKEN_SECRET = "llm-d-hf-token"
HF_TOKEN_KEY = "HF_TOKEN"


def _trunc(name: str, limit: int) -> str:
    return name[:limit].rstrip("-")


def modelservice_fullname(release: str, chart: str = "llm-d-modelservice") -> str:
    """llm-d-modelservice ``fullname``: the release name if it contains the chart name."""
    name = release if chart in release else f"{release}-{chart}"
    return _trunc(name, 55)


def model_label(model: str) -> str:
    """A label value (<= 63 chars, [a-z0-9-.]) identifying the served model."""
    value = re.sub(r"[^a-z0-9.-]+", "-", model.lower()).strip("-.")
    return _trunc(value, 63).rstrip(".")


@dataclass(frozen=True)
class ReleaseNames:
    infra: str = "llm-d-infra"
    inferencepool: str = "llm-d-inferencepool"
    modelservice: str = "llm-d-modelservice"

    @property
    def gateway(self) -> str:
        """llm-d-infra ``gateway.fullname``: ``<release>-inference-gateway``."""
        return _trunc(f"{self.infra}-inference-gateway", 63)

    def gateway_service(self, gateway_class: str) -> str:
        """The Service the class deploys for the Gateway (llm-d-infra ``gateway.serviceName``).

        Istio names it ``<gateway>-istio``; agentgateway names it after the
        Gateway (hashing only names over 63 characters, which ``gateway`` is not).
        """
        return f"{self.gateway}-{gateway_class}" if gateway_class == "istio" else self.gateway

    @property
    def inference_pool(self) -> str:
        """The inferencepool chart names the InferencePool after its release."""
        return self.inferencepool

    @property
    def decode_deployment(self) -> str:
        return f"{modelservice_fullname(self.modelservice)}-decode"


RELEASES = ReleaseNames()


def model_server_labels(settings: Settings) -> dict[str, str]:
    """Labels every model-server pod carries (modelArtifacts.labels) and the pool selects."""
    return {
        "llm-d.ai/inference-serving": "true",
        "llm-d.ai/model": model_label(settings.model.name),
    }
