"""GatewayApiCrds and GatewayControlPlane (Istio with the inference extension)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .config import Settings
from .helm import release
from .plan import gateway as plan


class GatewayApiCrds(pulumi.ComponentResource):
    """Gateway API standard CRDs and GAIE CRDs from their pinned release manifests.

    Anything that uses these kinds depends on ``resources`` itself: a
    component's ``depends_on`` does not reach its children.
    """

    resources: list[pulumi.Resource]

    def __init__(
        self, name: str, settings: Settings, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("llmd:gateway:GatewayApiCrds", name, None, opts)
        profile = settings.profile
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.resources = [
            k8s.yaml.v2.ConfigFile(f"{name}-gateway-api", file=profile.gateway_api_crds.url, opts=child),
            k8s.yaml.v2.ConfigFile(f"{name}-inference-extension", file=profile.gaie_crds.url, opts=child),
        ]
        self.register_outputs({})


class GatewayControlPlane(pulumi.ComponentResource):
    """Istio ``base`` then ``istiod``, with ENABLE_GATEWAY_API_INFERENCE_EXTENSION."""

    base: k8s.helm.v3.Release
    istiod: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        settings: Settings,
        provider: k8s.Provider,
        crds: GatewayApiCrds,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("llmd:gateway:GatewayControlPlane", name, None, opts)
        profile = settings.profile
        self.base = release(
            f"{name}-istio-base",
            profile.istio_base,
            release_name="istio-base",
            namespace=plan.ISTIO_NAMESPACE,
            values=plan.istio_base_values(),
            create_namespace=True,
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        # istiod discovers the Gateway API kinds at start-up: CRDs first.
        self.istiod = release(
            f"{name}-istiod",
            profile.istiod,
            release_name="istiod",
            namespace=plan.ISTIO_NAMESPACE,
            values=plan.istiod_values(),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.base, *crds.resources]),
        )
        self.register_outputs({})
