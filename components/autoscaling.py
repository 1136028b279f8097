"""Autoscaling: KEDA and the queue-depth ScaledObject for the decode Deployment."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from .config import Settings
from .helm import release
from .plan import autoscaling as plan
from .versions import OPERATIONS


class Autoscaling(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: Settings,
        provider: k8s.Provider,
        *,
        prometheus: Sequence[pulumi.Resource],
        target: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``prometheus``: what serves the metrics (and the monitor CRDs); ``target``: what creates the Deployment."""
        super().__init__("llmd:autoscaling:Autoscaling", name, None, opts)

        def on_cluster(*depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))

        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": plan.NAMESPACE}, opts=on_cluster())
        # KEDA's ServiceMonitors need the prometheus-operator CRDs.
        keda = release(
            f"{name}-keda",
            OPERATIONS.keda,
            release_name=plan.RELEASE,
            namespace=namespace.metadata.name,
            values=plan.keda_values(settings),
            opts=on_cluster(*prometheus),
        )
        # The ScaledObject CRD comes with KEDA; the target Deployment with the modelservice release.
        k8s.apiextensions.CustomResource(
            f"{name}-scaledobject",
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata={"name": plan.SCALED_OBJECT, "namespace": settings.serving.namespace},
            spec=plan.scaled_object_spec(settings),
            opts=on_cluster(keda, *prometheus, *target),
        )
        self.register_outputs({})
