"""Gateway control plane (Istio or agentgateway) values, and how the gateway Service is exposed."""

from __future__ import annotations

from typing import Any

from ..config import Settings

ISTIO_NAMESPACE = "istio-system"
AGENTGATEWAY_NAMESPACE = "agentgateway-system"

# GatewayClass of the llm-d Gateway per control plane: llm-d-infra v1.4.0's
# `gateway.className` helper for `gateway.provider` with no explicit class
# (agentgateway -> "agentgateway"). istiod and the agentgateway controller
# create these classes themselves.
GATEWAY_CLASS = {"istio": "istio", "agentgateway": "agentgateway"}

# inferencepool v1.4.0 `provider.name` knows gke, istio and none. Istio gets a
# DestinationRule for the endpoint picker; agentgateway needs nothing extra.
INFERENCEPOOL_PROVIDER = {"istio": "istio", "agentgateway": "none"}

# EKS Auto Mode provisions an NLB for a LoadBalancer Service of this class; the
# scheme annotation picks internal or internet-facing.
NLB_CLASS = "eks.amazonaws.com/nlb"
NLB_SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
NLB_SCHEMES = {"internal-nlb": "internal", "internet-nlb": "internet-facing"}

# GatewayClass-level AgentgatewayParameters carrying the NLB scheme annotation.
AGENTGATEWAY_SERVICE_PARAMETERS = "llm-d-gateway-service"


def nlb_scheme(settings: Settings) -> str | None:
    """The NLB scheme for serving.exposure, None for cluster-ip."""
    return NLB_SCHEMES.get(settings.serving.exposure)


def istio_base_values() -> dict[str, Any]:
    return {"defaultRevision": "default"}


def istiod_values() -> dict[str, Any]:
    # The inference extension flag makes istiod program Envoy's ext_proc hop to
    # the endpoint picker for routes whose backend is an InferencePool. Since
    # Istio 1.21 the istiod chart takes its values flat: the 1.29 deployment
    # template reads `.Values.env`; a `pilot.env` (ARCHITECTURE §2's wording,
    # from the older chart layout) would be ignored without a word.
    return {"env": {"ENABLE_GATEWAY_API_INFERENCE_EXTENSION": "true"}}


def agentgateway_crds_values() -> dict[str, Any]:
    # The chart has no values at all: it installs only the agentgateway.dev
    # CRDs, never Gateway API ones (those come from the pinned manifests).
    return {}


def agentgateway_values(settings: Settings) -> dict[str, Any]:
    # inferenceExtension.enabled lets the controller watch InferencePools and
    # send each request through the endpoint picker.
    values: dict[str, Any] = {"inferenceExtension": {"enabled": True}}
    if nlb_scheme(settings) is not None:
        values["gatewayClassParametersRefs"] = {
            GATEWAY_CLASS["agentgateway"]: {
                "name": AGENTGATEWAY_SERVICE_PARAMETERS,
                "namespace": AGENTGATEWAY_NAMESPACE,
            }
        }
    return values


def agentgateway_service_parameters(settings: Settings) -> dict[str, Any] | None:
    """Spec of the GatewayClass-level AgentgatewayParameters, None when nothing is exposed.

    llm-d-infra's own AgentgatewayParameters (Gateway level) sets the Service
    type and loadBalancerClass but only labels in the Service metadata; its
    `gateway.annotations` land on the Gateway and the parameters object, which
    agentgateway does not copy onto the Service. The controller merges the
    class-level parameters under the Gateway-level ones, so the Service gets
    this annotation and llm-d-infra's type and class.
    """
    scheme = nlb_scheme(settings)
    if scheme is None:
        return None
    return {"service": {"metadata": {"annotations": {NLB_SCHEME_ANNOTATION: scheme}}}}
