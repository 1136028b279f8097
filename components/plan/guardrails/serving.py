"""Where the model servers run, and what they need to fetch the model."""

from __future__ import annotations

from collections.abc import Iterator

from ...catalog.models import GATED_ORGANISATIONS
from ...config import Settings
from .. import autoscaling, dra, dynamo, gateway, gpu_operator, karpenter, modes, observability
from . import Finding, Severity, key, rule

# Kubernetes' own namespaces, and every namespace this program installs a chart into:
# the stack owns `serving.namespace` as a resource, so destroying the stack (or changing
# the key) would delete the namespace with whatever else lives there.
RESERVED_NAMESPACES = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        gateway.ISTIO_NAMESPACE,
        gateway.AGENTGATEWAY_NAMESPACE,
        observability.NAMESPACE,
        autoscaling.NAMESPACE,
        gpu_operator.NAMESPACE,
        dra.DRA_NAMESPACE,
        dynamo.PLATFORM_NAMESPACE,
        karpenter.NAMESPACE,
    }
)


@rule("GR-SERVING-NAMESPACE-RESERVED")
def serving_namespace_is_ours(settings: Settings) -> Iterator[Finding]:
    namespace = settings.serving.namespace
    if namespace in RESERVED_NAMESPACES:
        yield Finding(
            "GR-SERVING-NAMESPACE-RESERVED",
            Severity.ERROR,
            key("serving.namespace"),
            f"{namespace!r} is a Kubernetes namespace or one this program installs into; the stack creates and "
            "owns serving.namespace, so a destroy (or a later change of the key) would delete it and everything in it.",
            "use a namespace of its own, e.g. llm-d (the default).",
        )


@rule("GR-MODEL-GATED-NO-TOKEN")
def gated_model_needs_a_token(settings: Settings) -> Iterator[Finding]:
    if not modes.uses_gpus(settings) or settings.has_hf_token:
        return  # the simulator downloads nothing
    organisation = settings.model.name.split("/", 1)[0]
    if organisation in GATED_ORGANISATIONS:
        yield Finding(
            "GR-MODEL-GATED-NO-TOKEN",
            Severity.ERROR,
            key("hfToken"),
            f"{settings.model.name} is gated on Hugging Face ({organisation} models need accepted terms and a "
            "token); without llmd-eks:hfToken vLLM gets 401 and restarts on GPU nodes that bill meanwhile.",
            "accept the model's terms on Hugging Face, then `pulumi config set --secret hfToken hf_...`.",
        )
