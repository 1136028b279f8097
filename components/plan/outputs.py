"""Human-facing stack outputs: how to reach the OpenAI-compatible endpoint."""

from __future__ import annotations

import json

from .. import versions
from ..config import Settings
from .llmd import gateway_service_address

LOCAL_PORT = 8080


def gateway_service(settings: Settings) -> str:
    namespace, service, port = gateway_service_address(settings)
    return f"{namespace}/{service}:{port}"


def port_forward_command(settings: Settings) -> str:
    namespace, service, port = gateway_service_address(settings)
    return f"kubectl port-forward -n {namespace} svc/{service} {LOCAL_PORT}:{port}"


def chat_completions_curl(settings: Settings) -> str:
    body = json.dumps(
        {
            "model": settings.model.name,
            "messages": [{"role": "user", "content": "What is Kubernetes? Answer in one sentence."}],
            "max_tokens": 128,
        }
    )
    return f"curl -s http://localhost:{LOCAL_PORT}/v1/chat/completions -H 'Content-Type: application/json' -d '{body}'"


def deployed_versions(settings: Settings) -> dict[str, str]:
    """Every pinned version this stack deploys: the llm-d profile plus the GPU platform of its phase."""
    deployed = settings.profile.deployed()
    if settings.gpu.operator:
        deployed["gpuOperator"] = versions.GPU_OPERATOR.version
    if settings.gpu.provisioner == "managed-node-group":
        deployed["draDriver"] = versions.DRA_DRIVER.version
        deployed["clusterAutoscaler"] = versions.CLUSTER_AUTOSCALER.version
        deployed["clusterAutoscalerImage"] = versions.CLUSTER_AUTOSCALER_BUILDS[
            settings.cluster.kubernetes_version
        ].image.ref
    return deployed
