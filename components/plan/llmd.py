"""Helm values for the llm-d charts and the HTTPRoute that joins them."""

from __future__ import annotations

from typing import Any

from ..config import Settings
from . import autoscaling, dra, modes, operations, pd, simulator
from .gateway import GATEWAY_CLASS, INFERENCEPOOL_PROVIDER, NLB_CLASS, NLB_SCHEME_ANNOTATION, nlb_scheme
from .names import (
    GATEWAY_LISTENER_PORT,
    GPU_RESOURCE,
    HF_TOKEN_SECRET,
    MODEL_SERVER_PORT,
    RELEASES,
    model_server_labels,
)
from .nodepool import GPU_TOLERATION

# A 65 GB model takes 10-20 minutes to download from Hugging Face and a few
# more to load; the startup probe allows 30 minutes before the kubelet gives up.
STARTUP_PROBE_PERIOD_S = 10
STARTUP_PROBE_FAILURES = 180
SHM_SIZE = "16Gi"  # NCCL between tensor-parallel workers uses /dev/shm
# Model servers become ready only after a GPU node joins and the weights load.
VLLM_READY_TIMEOUT_S = 45 * 60


def gateway_class(settings: Settings) -> str:
    return GATEWAY_CLASS[settings.serving.gateway]


def infra_values(settings: Settings) -> dict[str, Any]:
    provider = settings.serving.gateway
    scheme = nlb_scheme(settings)
    gateway: dict[str, Any] = {"provider": provider}
    if scheme is None:
        # Always explicit: for agentgateway the chart defaults to a LoadBalancer.
        gateway["service"] = {"type": "ClusterIP"}
    else:
        gateway["service"] = {"type": "LoadBalancer", "loadBalancerClass": NLB_CLASS}
        if provider == "istio":
            # The chart has no Service annotations for Istio; Istio copies the
            # Gateway's annotations onto the Service it deploys. (agentgateway
            # does not: see plan.gateway.agentgateway_service_parameters.)
            gateway["annotations"] = {NLB_SCHEME_ANNOTATION: scheme}
    return {"gateway": gateway}


def inferencepool_values(settings: Settings) -> dict[str, Any]:
    profile = settings.profile
    extension: dict[str, Any] = {
        "replicas": 1,
        "image": {
            "hub": profile.epp_image.hub,
            "name": profile.epp_image.name,
            "tag": profile.epp_image.tag,
            "pullPolicy": "IfNotPresent",
        },
        "extProcPort": 9002,
        "pluginsConfigFile": profile.epp_plugins_config_file,
    }
    if not modes.uses_gpus(settings):
        extension["resources"] = simulator.EPP_RESOURCES
    values = {
        "inferenceExtension": extension,
        "inferencePool": {
            "targetPorts": [{"number": MODEL_SERVER_PORT}],
            "modelServerType": "vllm",
            "modelServers": {"matchLabels": model_server_labels(settings)},
        },
        "provider": {"name": INFERENCEPOOL_PROVIDER[settings.serving.gateway]},
    }
    if pd.enabled(settings):
        values["inferenceExtension"].update(pd.epp_values())
    return operations.apply_to_inferencepool(values, settings)


def vllm_args(settings: Settings) -> list[str]:
    model = settings.model
    return [
        "--max-model-len",
        str(model.max_model_len),
        "--gpu-memory-utilization",
        f"{model.gpu_memory_utilization:g}",
        *model.extra_args,
    ]


def _http_probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": MODEL_SERVER_PORT},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def vllm_container(settings: Settings) -> dict[str, Any]:
    gpus = str(settings.model.tensor_parallelism)
    # With DRA the chart adds the ResourceClaim instead; a device-plugin count would never be satisfied.
    resources = {} if settings.gpu.dra else {"limits": {GPU_RESOURCE: gpus}, "requests": {GPU_RESOURCE: gpus}}
    return {
        "name": "vllm",
        "image": settings.profile.vllm_image.ref,
        "modelCommand": "vllmServe",
        "args": vllm_args(settings),
        "ports": [{"containerPort": MODEL_SERVER_PORT, "name": "metrics", "protocol": "TCP"}],
        "resources": resources,
        "mountModelVolume": True,
        "volumeMounts": [
            {"name": "metrics-volume", "mountPath": "/.config"},
            {"name": "shm", "mountPath": "/dev/shm"},
        ],
        "startupProbe": _http_probe("/health", STARTUP_PROBE_PERIOD_S, STARTUP_PROBE_FAILURES),
        "livenessProbe": _http_probe("/health", 10, 3),
        "readinessProbe": _http_probe("/v1/models", 5, 3),
    }


def simulator_container(settings: Settings) -> dict[str, Any]:
    """The simulator in vLLM's place: same container name, port, probes' paths and metrics."""
    return {
        "name": "vllm",
        "image": settings.profile.simulator_image.ref,
        "modelCommand": "custom",
        "command": list(simulator.ENTRYPOINT),
        "args": simulator.args(settings),
        "ports": [{"containerPort": MODEL_SERVER_PORT, "name": "metrics", "protocol": "TCP"}],
        "resources": simulator.RESOURCES,
        "startupProbe": _http_probe("/health", 2, 60),
        "livenessProbe": _http_probe("/health", 10, 3),
        "readinessProbe": _http_probe("/v1/models", 5, 3),
    }


def _vllm_decode(settings: Settings) -> dict[str, Any]:
    return {
        "parallelism": {"tensor": settings.model.tensor_parallelism},
        "tolerations": [dict(GPU_TOLERATION)],
        "containers": [vllm_container(settings)],
        "volumes": [
            {"name": "metrics-volume", "emptyDir": {}},
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}},
        ],
    }


def _simulator_decode(settings: Settings) -> dict[str, Any]:
    return {
        # The simulator has no tensor parallelism; and "cpu" tells the chart
        # outright not to add nvidia.com/gpu (it would also skip it for the
        # simulator's image name, but that is a heuristic, not a contract).
        "parallelism": {"tensor": 1},
        "accelerator": {"type": "cpu"},
        "containers": [simulator_container(settings)],
    }


def modelservice_values(settings: Settings, model_bucket: str | None = None) -> dict[str, Any]:
    """``model_bucket``: the S3 model cache's bucket when ``modelCache.enabled``."""
    model = settings.model
    artifacts: dict[str, Any] = {
        "uri": f"hf://{model.name}",
        "name": model.name,
        "labels": model_server_labels(settings),
    }
    if modes.uses_gpus(settings):
        # emptyDir sizeLimit for the downloaded weights: at most the node's disk.
        artifacts["size"] = settings.gpu.ephemeral_storage
    if settings.has_hf_token:
        artifacts["authSecretName"] = HF_TOKEN_SECRET
    decode: dict[str, Any] = {"create": True, "replicas": autoscaling.decode_replicas(settings)}
    decode |= _vllm_decode(settings) if modes.uses_gpus(settings) else _simulator_decode(settings)
    node_selector = modes.model_server_node_selector(settings)
    if node_selector:
        decode["nodeSelector"] = node_selector
    values: dict[str, Any] = {
        "multinode": False,
        "modelArtifacts": artifacts,
        "routing": {"servicePort": MODEL_SERVER_PORT, "proxy": {"enabled": False}},
        "decode": decode,
        "prefill": {"create": False},
    }
    if modes.uses_gpus(settings) and settings.gpu.dra:
        values["accelerator"] = dra.modelservice_accelerator()
    if pd.enabled(settings):
        values = pd.disaggregate(settings, values)
    return operations.apply_to_modelservice(values, settings, model_bucket)


def model_server_ready_timeout_s(settings: Settings) -> int:
    """How long the model-service release waits for its pods."""
    return VLLM_READY_TIMEOUT_S if modes.uses_gpus(settings) else simulator.READY_TIMEOUT_S


def httproute_spec(settings: Settings) -> dict[str, Any]:
    """Gateway -> InferencePool, names as the releases create them."""
    return {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": RELEASES.gateway}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [
                    {
                        "group": "inference.networking.k8s.io",
                        "kind": "InferencePool",
                        "name": RELEASES.inference_pool,
                        "port": MODEL_SERVER_PORT,
                    }
                ],
                # Streamed generations run for minutes; no route timeout.
                "timeouts": {"request": "0s", "backendRequest": "0s"},
            }
        ],
    }


def gateway_service_address(settings: Settings) -> tuple[str, str, int]:
    """(namespace, Service name, port) of the Service the gateway class deploys."""
    service = RELEASES.gateway_service(gateway_class(settings))
    return settings.serving.namespace, service, GATEWAY_LISTENER_PORT
