"""llm-d prefill/decode disaggregation (the ``pd-disaggregation`` well-lit path of the v0.6 profile).

Prefill and decode vLLM servers share one InferencePool; the chart labels them
``llm-d.ai/role: prefill|decode``. The endpoint picker's disaggregation profile
handler picks a decode pod and, when enough of the prompt is uncached, a prefill
pod too; the routing sidecar on the decode pod sends the prompt to that prefill
pod, whose KV cache then moves to the decode pod through NIXL — over EFA (RDMA)
on instance families that have it, with all model pods in one availability zone.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from ..config import PrefillConfig, Settings
from . import efa
from .names import GPU_RESOURCE, MODEL_SERVER_PORT, model_server_labels

# Decode pods: the routing sidecar takes the service port, vLLM moves to routing.proxy.targetPort.
DECODE_VLLM_PORT = 8200
NIXL_SIDE_CHANNEL_PORT = 5600  # vLLM's default VLLM_NIXL_SIDE_CHANNEL_PORT
SIDECAR_CONNECTOR = "nixlv2"
EPP_CONFIG_FILE = "pd-config.yaml"
# Disaggregate only when more than this many prompt tokens miss the decode pod's prefix cache.
PD_THRESHOLD_TOKENS = 16


def enabled(settings: Settings) -> bool:
    return settings.serving.stack == "llm-d" and settings.serving.path == "pd-disaggregation"


def prefill(settings: Settings) -> PrefillConfig:
    """``serving.prefill``, or its defaults when the path is set without it (the guardrail reports that)."""
    return settings.serving.prefill or PrefillConfig()


def _serve_on(container: dict[str, Any], port: int) -> None:
    container["ports"][0]["containerPort"] = port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        container[probe]["httpGet"]["port"] = port


def _model_server(settings: Settings, base: dict[str, Any], *, gpus: int, port: int) -> dict[str, Any]:
    container = copy.deepcopy(base)
    _serve_on(container, port)
    container["args"] = [*container["args"], "--kv-transfer-config", efa.nixl_kv_transfer_config(settings)]
    container["ports"].append({"containerPort": NIXL_SIDE_CHANNEL_PORT, "name": "nixl", "protocol": "TCP"})
    # NIXL's side channel advertises this address to the peer that pulls the KV cache.
    container["env"] = [
        *container.get("env", []),
        {"name": "VLLM_NIXL_SIDE_CHANNEL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    if settings.gpu.dra:
        return container  # the chart claims parallelism.tensor GPUs per pod through DRA
    resources = {GPU_RESOURCE: str(gpus)}
    efa_devices = efa.devices(settings, gpus)
    if efa_devices:
        resources[efa.EFA_RESOURCE] = str(efa_devices)
        # libfabric pins the KV-cache buffers it registers with EFA.
        container["extraConfig"] = {"securityContext": {"capabilities": {"add": ["IPC_LOCK"]}}}
    container["resources"] = {"limits": dict(resources), "requests": dict(resources)}
    return container


def disaggregate(settings: Settings, values: dict[str, Any]) -> dict[str, Any]:
    """llm-d-modelservice values of the aggregated path, turned into prefill + decode."""
    values = copy.deepcopy(values)
    decode, p = values["decode"], prefill(settings)
    base = decode["containers"][0]
    decode["containers"] = [
        _model_server(settings, base, gpus=settings.model.tensor_parallelism, port=DECODE_VLLM_PORT)
    ]
    values["prefill"] = {
        **copy.deepcopy({k: v for k, v in decode.items() if k not in {"containers", "replicas", "parallelism"}}),
        "create": True,
        "replicas": p.replicas,
        "parallelism": {"tensor": p.tensor_parallelism},
        "containers": [_model_server(settings, base, gpus=p.tensor_parallelism, port=MODEL_SERVER_PORT)],
    }
    if efa.interfaces_per_gpu(settings):
        # EFA traffic does not leave an AZ: every model pod in the zone of the first one.
        for role in (decode, values["prefill"]):
            role["extraConfig"] = {"affinity": efa.same_zone_affinity(model_server_labels(settings))}
    values["routing"]["proxy"] = {
        "enabled": True,
        "image": settings.profile.routing_sidecar_image.ref,
        "imagePullPolicy": "IfNotPresent",
        "targetPort": DECODE_VLLM_PORT,
        "connector": SIDECAR_CONNECTOR,
        "secure": False,
    }
    return values


def epp_config() -> dict[str, Any]:
    """EndpointPickerConfig: prefill and decode scheduling profiles and the disaggregation
    profile handler (``pd-profile-handler``'s successor in the v0.7 scheduler), which runs the
    prefill profile only when the prefix-based decider says the uncached part is worth it."""
    scoring = [{"pluginRef": "prefix-cache-scorer", "weight": 2}, {"pluginRef": "queue-scorer", "weight": 1}]
    return {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "kind": "EndpointPickerConfig",
        "featureGates": ["prepareDataPlugins"],
        "plugins": [
            {"type": "disagg-headers-handler"},
            {"type": "prefix-cache-scorer"},
            {"type": "queue-scorer"},
            {"type": "prefill-filter"},
            {"type": "decode-filter"},
            {"type": "max-score-picker"},
            {"type": "prefix-based-pd-decider", "parameters": {"nonCachedTokens": PD_THRESHOLD_TOKENS}},
            {"type": "disagg-profile-handler", "parameters": {"deciders": {"prefill": "prefix-based-pd-decider"}}},
        ],
        "schedulingProfiles": [
            # Copies per profile: shared dicts would be dumped as YAML anchors.
            {
                "name": role,
                "plugins": [
                    {"pluginRef": f"{role}-filter"},
                    {"pluginRef": "max-score-picker"},
                    *(dict(s) for s in scoring),
                ],
            }
            for role in ("prefill", "decode")
        ],
    }


def epp_values() -> dict[str, Any]:
    """inferencepool ``inferenceExtension`` keys that load :func:`epp_config`."""
    return {
        "pluginsConfigFile": EPP_CONFIG_FILE,
        "pluginsCustomConfig": {EPP_CONFIG_FILE: yaml.safe_dump(epp_config(), sort_keys=False)},
    }
