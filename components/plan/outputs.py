"""Human-facing stack outputs: how to reach the OpenAI-compatible endpoint."""

from __future__ import annotations

import json

from .. import versions
from ..config import Settings
from . import dynamo, efa, gpu_operator, modes, observability
from .llmd import gateway_service_address

LOCAL_PORT = 8080
EXISTING_CLUSTER_NAME = "existing"  # clusterName of an existing cluster on the current context


def cluster_name(settings: Settings) -> str:
    """The EKS cluster's name, or the kubeconfig context of an existing cluster."""
    if modes.existing_cluster(settings):
        return settings.cluster.kubeconfig_context or EXISTING_CLUSTER_NAME
    return settings.cluster_name


def kubectl(settings: Settings) -> str:
    """kubectl aimed at the stack's cluster: an existing cluster's context is
    named, so the command works whatever the current context is."""
    context = settings.cluster.kubeconfig_context if modes.existing_cluster(settings) else ""
    return f"kubectl --context {context}" if context else "kubectl"


def endpoint_address(settings: Settings) -> tuple[str, str, int]:
    """(namespace, Service, port) of the OpenAI-compatible endpoint: llm-d's gateway or Dynamo's frontend."""
    return dynamo.endpoint(settings) if dynamo.enabled(settings) else gateway_service_address(settings)


def gateway_service(settings: Settings) -> str:
    namespace, service, port = endpoint_address(settings)
    return f"{namespace}/{service}:{port}"


def port_forward_command(settings: Settings) -> str:
    namespace, service, port = endpoint_address(settings)
    return f"{kubectl(settings)} port-forward -n {namespace} svc/{service} {LOCAL_PORT}:{port}"


def grafana_access(settings: Settings) -> dict[str, str]:
    """The ``grafana`` stack output: how to reach Grafana and read its generated admin password."""
    kubectl_ = kubectl(settings)
    namespace, service = observability.NAMESPACE, observability.grafana_service()
    ports = f"{observability.GRAFANA_LOCAL_PORT}:{observability.GRAFANA_SERVICE_PORT}"
    return {
        "portForwardCommand": f"{kubectl_} port-forward -n {namespace} svc/{service} {ports}",
        "url": f"http://localhost:{observability.GRAFANA_LOCAL_PORT}",
        "adminUser": observability.GRAFANA_ADMIN_USER,
        "adminPasswordCommand": (
            f"{kubectl_} get secret -n {namespace} {service} -o jsonpath='{{.data.admin-password}}' | base64 -d"
        ),
    }


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
    """Every pinned version this stack deploys: the serving stack plus the GPU platform of its phase."""
    if dynamo.enabled(settings):
        deployed = {
            # The Gateway API and inference-extension CRDs stay in every phase, Dynamo's included.
            **settings.profile.deployed_crds(),
            "dynamoPlatform": versions.DYNAMO_PLATFORM.version,
            "dynamoVllm": versions.DYNAMO_VLLM_RUNTIME.ref,
        }
    else:
        deployed = settings.profile.deployed(settings.serving.gateway, simulate=settings.model.simulate)
        if settings.serving.path == "pd-disaggregation":
            deployed["routingSidecar"] = settings.profile.routing_sidecar_image.ref
    if not modes.creates_gpu_capacity(settings):
        return deployed
    if gpu_operator.deployed(settings):
        deployed["gpuOperator"] = versions.GPU_OPERATOR.version
    if settings.gpu.provisioner == "managed-node-group":
        deployed["draDriver"] = versions.DRA_DRIVER.version
        deployed["clusterAutoscaler"] = versions.CLUSTER_AUTOSCALER.version
        deployed["clusterAutoscalerImage"] = versions.CLUSTER_AUTOSCALER_BUILDS[
            settings.cluster.kubernetes_version
        ].image.ref
    if settings.gpu.provisioner == "karpenter":
        deployed["karpenter"] = versions.KARPENTER.version
        deployed["karpenterAmi"] = versions.KARPENTER_AMI.alias
    if efa.kv_transfer_over_efa(settings):
        deployed["efaDevicePlugin"] = versions.EFA_DEVICE_PLUGIN.version
    return deployed
