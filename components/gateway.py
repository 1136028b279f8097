"""GatewayApiCrds and GatewayControlPlane (Istio or agentgateway, with the inference extension)."""

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
    """The Gateway API implementation of ``serving.gateway``, with the inference extension on.

    ``istio``: Istio ``base`` then ``istiod`` (ENABLE_GATEWAY_API_INFERENCE_EXTENSION).
    ``agentgateway``: the ``agentgateway-crds`` chart then the controller
    (``inferenceExtension.enabled``), with GatewayClass-level parameters that
    put the NLB scheme on the gateway Service when it is exposed.

    ``resources`` is what the Gateway and the InferencePool must wait for.
    """

    resources: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        settings: Settings,
        provider: k8s.Provider,
        crds: GatewayApiCrds,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("llmd:gateway:GatewayControlPlane", name, None, opts)
        install = self._istio if settings.serving.gateway == "istio" else self._agentgateway
        self.resources = install(name, settings, provider, crds)
        self.register_outputs({})

    def _on_cluster(self, provider: k8s.Provider, *depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))

    def _istio(
        self, name: str, settings: Settings, provider: k8s.Provider, crds: GatewayApiCrds
    ) -> list[pulumi.Resource]:
        profile = settings.profile
        base = release(
            f"{name}-istio-base",
            profile.istio_base,
            release_name="istio-base",
            namespace=plan.ISTIO_NAMESPACE,
            values=plan.istio_base_values(),
            create_namespace=True,
            opts=self._on_cluster(provider),
        )
        # istiod discovers the Gateway API kinds at start-up: CRDs first.
        istiod = release(
            f"{name}-istiod",
            profile.istiod,
            release_name="istiod",
            namespace=plan.ISTIO_NAMESPACE,
            values=plan.istiod_values(),
            opts=self._on_cluster(provider, base, *crds.resources),
        )
        return [base, istiod]

    def _agentgateway(
        self, name: str, settings: Settings, provider: k8s.Provider, crds: GatewayApiCrds
    ) -> list[pulumi.Resource]:
        profile = settings.profile
        agentgateway_crds = release(
            f"{name}-agentgateway-crds",
            profile.agentgateway_crds,
            release_name="agentgateway-crds",
            namespace=plan.AGENTGATEWAY_NAMESPACE,
            values=plan.agentgateway_crds_values(),
            create_namespace=True,
            # Not retained on delete: a release Helm keeps but Pulumi forgets could never be
            # installed again under its name. Uninstalling it removes the agentgateway.dev
            # CRDs and objects, which in a cluster this program runs are its own.
            opts=self._on_cluster(provider),
        )
        installed: list[pulumi.Resource] = [agentgateway_crds]
        parameters = plan.agentgateway_service_parameters(settings)
        if parameters is not None:
            # The controller resolves the class's parametersRef for every
            # Gateway it deploys: the object must exist first.
            installed.append(
                k8s.apiextensions.CustomResource(
                    f"{name}-agentgateway-service-parameters",
                    api_version="agentgateway.dev/v1alpha1",
                    kind="AgentgatewayParameters",
                    metadata={"name": plan.AGENTGATEWAY_SERVICE_PARAMETERS, "namespace": plan.AGENTGATEWAY_NAMESPACE},
                    spec=parameters,
                    opts=self._on_cluster(provider, agentgateway_crds),
                )
            )
        # Like istiod, the controller watches Gateway API and InferencePool kinds from start-up.
        controller = release(
            f"{name}-agentgateway",
            profile.agentgateway,
            release_name="agentgateway",
            namespace=plan.AGENTGATEWAY_NAMESPACE,
            values=plan.agentgateway_values(settings),
            opts=self._on_cluster(provider, *installed, *crds.resources),
        )
        return [*installed, controller]
