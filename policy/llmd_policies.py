"""The llmd-eks policy pack's rules: graph checks that matter on a real ``pulumi preview``.

Each rule's validate function reads only resource types and inputs (one
resource, or the whole stack for the load-balancer rule, whose Services are
created by gateway controllers from Helm values and gateway parameters), so
the tests call it with fake arguments and run it over the program's recorded
graph. Inputs arrive as read-only
``Mapping``/``Sequence`` proxies (values unknown at preview raise inside them
and the engine reports the rule as not run), so nothing here assumes dict/list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

NODEPOOL_TYPES = frozenset({"kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.sh/v1beta1:NodePool"})
HELM_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart"})
SERVICE_TYPE = "kubernetes:core/v1:Service"
GPU_RESOURCE = "nvidia.com/gpu"
SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
_LABEL_PREFIXES = ("eks.amazonaws.com/", "karpenter.k8s.aws/")
_GPU_FAMILY = re.compile(r"^[gp][0-9]")  # g5, g6e, p4d, p5en, p6-b200
_EXACT_VERSION = re.compile(r"^v?[0-9]+(\.[0-9]+){0,2}([-+][0-9A-Za-z.-]+)?$")


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


# --- GPU NodePools ----------------------------------------------------------------------------


def _requirements(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = props.get("spec") or {}
    template_spec = (spec.get("template") or {}).get("spec") or {}
    return [r for r in template_spec.get("requirements") or [] if isinstance(r, Mapping)]


def _label(key: str) -> str:
    """``eks.amazonaws.com/instance-family`` -> ``instance-family`` (Auto Mode or Karpenter prefix)."""
    for prefix in _LABEL_PREFIXES:
        if key.startswith(prefix):
            return key.removeprefix(prefix)
    return key


def is_gpu_nodepool(props: Mapping[str, Any]) -> bool:
    """A NodePool that can launch GPU instances: GPU requirements, G/P families, types or categories."""
    for req in _requirements(props):
        label = _label(str(req.get("key", "")))
        values = [str(v) for v in req.get("values") or []]
        if label.startswith("instance-gpu"):
            return True
        if req.get("operator", "In") != "In":
            continue
        if label == "instance-category" and {"g", "p"} & set(values):
            return True
        if label in ("instance-family", "node.kubernetes.io/instance-type") and any(
            _GPU_FAMILY.match(v) for v in values
        ):
            return True
    return False


def _gpu_nodepool_tainted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in NODEPOOL_TYPES or not is_gpu_nodepool(args.props):
        return
    template_spec = ((args.props.get("spec") or {}).get("template") or {}).get("spec") or {}
    taints = [t for t in template_spec.get("taints") or [] if isinstance(t, Mapping)]
    if not any(t.get("key") == GPU_RESOURCE and t.get("effect") in ("NoSchedule", "NoExecute") for t in taints):
        report_violation(
            f"GPU NodePool {args.name} has no {GPU_RESOURCE}:NoSchedule taint: any pod can land on its GPU nodes "
            "and keep them from consolidating. Add the taint and a matching toleration on the model servers."
        )


def _gpu_nodepool_limited(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in NODEPOOL_TYPES or not is_gpu_nodepool(args.props):
        return
    limits = (args.props.get("spec") or {}).get("limits") or {}
    if GPU_RESOURCE not in limits:
        report_violation(
            f"GPU NodePool {args.name} sets no {GPU_RESOURCE} limit: a scaling mistake can launch GPU nodes "
            "without bound. Set spec.limits to the GPU budget (llmd-eks:gpu.maxGpus)."
        )


def _gpu_nodepool_no_category(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in NODEPOOL_TYPES or not is_gpu_nodepool(args.props):
        return
    for req in _requirements(args.props):
        if _label(str(req.get("key", ""))) == "instance-category":
            report_violation(
                f"GPU NodePool {args.name} selects by {req.get('key')}: [g] silently excludes every P family, "
                "[g, p] launches cheaper G types first against the (often zero) G quota. Select explicit "
                "instance-family values instead."
            )


# --- Helm -------------------------------------------------------------------------------------


def _helm_release_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in HELM_TYPES:
        return
    chart = str(args.props.get("chart") or "")
    if chart.startswith((".", "/")):
        return  # a chart in the repository is pinned by the commit
    version = str(args.props.get("version") or "")
    if not _EXACT_VERSION.match(version):
        report_violation(
            f"Helm chart {chart or args.name} is not pinned (version {version or 'unset'!r}): every preview could "
            "install a different chart. Set an exact version."
        )


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, key, value) for every mapping entry and sequence item under ``value``."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, key, item
            yield from _walk(item, child)
    elif _is_sequence(value):
        for index, item in enumerate(value):
            child = f"{path}[{index}]"
            yield child, index, item
            yield from _walk(item, child)


# --- plaintext secrets ------------------------------------------------------------------------

_CREDENTIAL_VALUE = re.compile(
    r"hf_[A-Za-z0-9]{30,}"  # Hugging Face token
    r"|(AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}"  # GitHub tokens
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
_CREDENTIAL_NAME = re.compile(
    r"^(.*_)?(password|passwd|token|api_?key|access_token|auth_token|bearer_token|client_secret|private_key"
    r"|secret_access_key)$"
)


def _snake(name: str) -> str:
    """``hfToken`` / ``HF_TOKEN`` / ``api-key`` -> ``hf_token`` / ``hf_token`` / ``api_key``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").lower()


def _plaintext_secrets(values: Any) -> Iterator[str]:
    for path, key, value in _walk(values):
        if not isinstance(value, str) or not value:
            continue
        if _CREDENTIAL_VALUE.search(value):
            yield f"{path} holds a credential"
        elif isinstance(key, str) and _CREDENTIAL_NAME.match(_snake(key)):
            yield f"{path} sets {key} to a literal"
    # env entries: {name: HF_TOKEN, value: "..."} rather than valueFrom.secretKeyRef
    for path, _, entry in _walk(values):
        if isinstance(entry, Mapping) and isinstance(entry.get("value"), str) and entry.get("value"):
            name = entry.get("name")
            if isinstance(name, str) and _CREDENTIAL_NAME.match(_snake(name)):
                yield f"{path} sets environment variable {name} to a literal"


def _no_plaintext_secrets_in_helm_values(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in HELM_TYPES:
        return
    for problem in dict.fromkeys(_plaintext_secrets(args.props.get("values") or {})):
        report_violation(
            f"Helm values of {args.name}: {problem}. Helm keeps values in plain text in its release Secret; "
            "create a Kubernetes Secret and reference it (e.g. modelArtifacts.authSecretName, valueFrom.secretKeyRef)."
        )


# --- load balancers ---------------------------------------------------------------------------


def _has_scheme(annotations: Any) -> bool:
    return isinstance(annotations, Mapping) and bool(annotations.get(SCHEME_ANNOTATION))


def _unscoped_load_balancers(values: Any, inherited: bool = False, path: str = "") -> Iterator[str]:
    """Paths of ``type: LoadBalancer`` mappings with no scheme annotation on them or above them."""
    if isinstance(values, Mapping):
        scoped = inherited or any(
            _has_scheme(item) for key, item in values.items() if str(key).lower().endswith("annotations")
        )
        if values.get("type") == "LoadBalancer" and not scoped:
            yield path or "."
        for key, item in values.items():
            yield from _unscoped_load_balancers(item, scoped, f"{path}.{key}" if path else str(key))
    elif _is_sequence(values):
        for index, item in enumerate(values):
            yield from _unscoped_load_balancers(item, inherited, f"{path}[{index}]")


def sets_gateway_scheme(resource_type: str, props: Mapping[str, Any]) -> bool:
    """A gateway resource that annotates the Services its controller creates with a scheme
    (agentgateway's AgentgatewayParameters, a Gateway's spec.infrastructure.annotations)."""
    if not resource_type.startswith("kubernetes:") or not resource_type.endswith(
        (":AgentgatewayParameters", ":GatewayParameters", ":Gateway")
    ):
        return False
    return any(str(key).endswith("annotations") and _has_scheme(item) for _, key, item in _walk(props))


def _load_balancer_scheme_explicit(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    fix = f"set the {SCHEME_ANNOTATION} annotation to internal or internet-facing (llmd-eks:serving.exposure)"
    gateway_scheme = any(sets_gateway_scheme(r.resource_type, r.props) for r in args.resources)
    for resource in args.resources:
        props = resource.props
        if resource.resource_type == SERVICE_TYPE:
            spec = props.get("spec") or {}
            if spec.get("type") == "LoadBalancer" and not _has_scheme((props.get("metadata") or {}).get("annotations")):
                report_violation(
                    f"LoadBalancer Service {resource.name} does not say whether it is public: {fix}.", resource.urn
                )
        elif resource.resource_type in HELM_TYPES:
            for path in _unscoped_load_balancers(props.get("values") or {}):
                if gateway_scheme and path.split(".", 1)[0] == "gateway":
                    # A gateway chart's Service (llm-d-infra `gateway.service`) is created by the
                    # gateway controller, which takes the scheme from the gateway parameters above.
                    continue
                report_violation(
                    f"Helm values of {resource.name} ask for a LoadBalancer at {path} without a scheme, and no "
                    f"gateway parameters in the stack set one: {fix}.",
                    resource.urn,
                )


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    ResourceValidationPolicy(
        name="gpu-nodepool-tainted",
        description="GPU NodePools carry the nvidia.com/gpu:NoSchedule taint.",
        validate=_gpu_nodepool_tainted,
    ),
    ResourceValidationPolicy(
        name="gpu-nodepool-limited",
        description="GPU NodePools limit nvidia.com/gpu.",
        validate=_gpu_nodepool_limited,
    ),
    ResourceValidationPolicy(
        name="gpu-nodepool-no-instance-category",
        description="GPU NodePools select explicit instance families, never an instance category.",
        validate=_gpu_nodepool_no_category,
    ),
    ResourceValidationPolicy(
        name="helm-release-pinned",
        description="Every Helm release and chart is pinned to an exact version.",
        validate=_helm_release_pinned,
    ),
    StackValidationPolicy(
        name="load-balancer-scheme-explicit",
        description="LoadBalancer Services, and Helm values or gateway parameters asking for one, set the AWS "
        "load-balancer scheme.",
        validate=_load_balancer_scheme_explicit,
    ),
    ResourceValidationPolicy(
        name="no-plaintext-secrets-in-helm-values",
        description="Helm values carry no credentials; they reference Kubernetes Secrets.",
        validate=_no_plaintext_secrets_in_helm_values,
    ),
]

ENFORCEMENT = EnforcementLevel.MANDATORY
