"""The serving namespace and the HF token Secret, owned by whichever serving stack the phase runs.

LlmdStack (llm-d) and Dynamo (phase 3) each create them. Without more, switching
2a <-> 3 would create the new owner's Namespace (adopting the existing one) and
then delete the old owner's — deleting the namespace with the new graph in it.
Each owner therefore declares the other owners' resources as aliases: Pulumi
hands the same Namespace and Secret over from one component to the other.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .config import Settings
from .plan.names import HF_TOKEN_KEY, HF_TOKEN_SECRET

# (component type, its resource name in __main__.py) of every serving stack.
OWNERS = (("llmd:llmd:LlmdStack", "llm-d"), ("llmd:dynamo:Dynamo", "dynamo"))


def _previous_owners(owner_type: str, child: str) -> list[pulumi.Alias]:
    return [
        pulumi.Alias(name=f"{name}-{child}", parent=pulumi.create_urn(name, type_))
        for type_, name in OWNERS
        if type_ != owner_type
    ]


def serving_namespace(
    owner: pulumi.ComponentResource,
    owner_type: str,
    owner_name: str,
    settings: Settings,
    provider: k8s.Provider,
    hf_token: pulumi.Output[str] | None,
) -> tuple[k8s.core.v1.Namespace, k8s.core.v1.Secret | None]:
    """``serving.namespace`` and, with a token, Secret ``llm-d-hf-token`` (key ``HF_TOKEN``), children of ``owner``."""

    def opts(child: str) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=owner, provider=provider, aliases=_previous_owners(owner_type, child))

    namespace = k8s.core.v1.Namespace(
        f"{owner_name}-namespace", metadata={"name": settings.serving.namespace}, opts=opts("namespace")
    )
    if hf_token is None:
        return namespace, None
    secret = k8s.core.v1.Secret(
        f"{owner_name}-hf-token",
        metadata={"name": HF_TOKEN_SECRET, "namespace": namespace.metadata.name},
        type="Opaque",
        string_data={HF_TOKEN_KEY: pulumi.Output.secret(hf_token)},
        opts=pulumi.ResourceOptions.merge(
            opts("hf-token"), pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])
        ),
    )
    return namespace, secret
