"""Dynamo: the NVIDIA Dynamo platform release, and the DynamoGraphDeployment serving the model."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from . import versions
from .config import Settings
from .disruption import pod_disruption_budgets
from .helm import release
from .plan import disruption
from .plan import dynamo as plan
from .serving_namespace import serving_namespace

TYPE = "llmd:dynamo:Dynamo"


class Dynamo(pulumi.ComponentResource):
    platform: k8s.helm.v3.Release
    graph: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        settings: Settings,
        provider: k8s.Provider,
        *,
        gpu_capacity: Sequence[pulumi.Resource],
        hf_token: pulumi.Output[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE, name, None, opts)

        def on_cluster(*depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))

        # Operator, webhooks and NATS; the nvidia.com CRDs come with it (Helm installs crds/ first).
        self.platform = release(
            f"{name}-platform",
            versions.DYNAMO_PLATFORM,
            release_name=plan.PLATFORM_RELEASE,
            namespace=plan.PLATFORM_NAMESPACE,
            values=plan.platform_values(),
            create_namespace=True,
            opts=on_cluster(),
        )
        namespace, hf_token_secret = serving_namespace(self, TYPE, name, settings, provider, hf_token)
        ns = namespace.metadata.name
        # At most one pod of each worker service evicted at a time when GPU nodes are drained.
        pod_disruption_budgets(self, name, disruption.dynamo_budgets(settings), ns, provider)
        graph_deps: list[pulumi.Resource] = [self.platform, *gpu_capacity]
        if hf_token_secret is not None:
            graph_deps.append(hf_token_secret)
        # The operator's admission webhook must be serving before the graph is submitted:
        # the platform release (which waits for the operator) comes first.
        self.graph = k8s.apiextensions.CustomResource(
            f"{name}-graph",
            api_version=plan.API_VERSION,
            kind="DynamoGraphDeployment",
            metadata={"name": plan.GRAPH_NAME, "namespace": ns},
            spec=plan.graph_spec(settings),
            opts=on_cluster(*graph_deps),
        )
        if settings.serving.exposure != "cluster-ip":
            service = plan.nlb_service(settings)
            k8s.core.v1.Service(
                f"{name}-frontend-nlb",
                metadata={**service["metadata"], "namespace": ns},
                spec=service["spec"],
                opts=on_cluster(),
            )
        self.register_outputs({"namespace": ns, "graph": plan.GRAPH_NAME})
