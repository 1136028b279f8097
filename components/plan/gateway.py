"""Gateway control plane (Istio) values."""

from __future__ import annotations

from typing import Any

ISTIO_NAMESPACE = "istio-system"
GATEWAY_CLASS = {"istio": "istio"}


def istio_base_values() -> dict[str, Any]:
    return {"defaultRevision": "default"}


def istiod_values() -> dict[str, Any]:
    # The inference extension flag makes istiod program Envoy's ext_proc hop to
    # the endpoint picker for routes whose backend is an InferencePool.
    return {"pilot": {"env": {"ENABLE_GATEWAY_API_INFERENCE_EXTENSION": "true"}}}
