"""Guardrails: checks that run on the resolved settings before anything is registered.

A rule is a pure function ``Settings -> Iterable[Finding]`` registered with
``@rule``. Errors stop the program before any registration; warnings are
reported with ``pulumi.log.warn`` and in the offline plan. Each rule lives in
the module of its concern; importing this package registers them all. Every
id is documented in a guardrail table of the README (a test keeps them in step).

A rule about what this program provisions in AWS says so with its ``scope``, and
is skipped where that is not provisioned: ``Scope.AWS`` (cluster, VPC, IAM, load
balancers) on an existing cluster; ``Scope.GPU_CAPACITY`` (GPU instances, quotas,
NodePools, node groups) also when the model servers are simulated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from ...config import NAMESPACE, Settings
from .. import modes


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    id: str  # stable, documented in the README's guardrail table
    severity: Severity
    key: str  # the configuration key to change, e.g. "llmd-eks:gpu.instanceFamilies"
    message: str  # what is wrong, with the value
    fix: str = ""  # what to change

    def __str__(self) -> str:
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"[{self.id}] {self.key}: {self.message}{fix}"


def key(path: str) -> str:
    """``gpu.maxGpus`` -> ``llmd-eks:gpu.maxGpus``."""
    return f"{NAMESPACE}:{path}"


class Scope(StrEnum):
    """Which stacks a rule applies to."""

    ANY = "any"
    AWS = "aws"  # this program creates AWS resources: not on an existing cluster
    GPU_CAPACITY = "gpu-capacity"  # this program provisions GPU nodes: EKS and not simulated


_APPLIES: dict[Scope, Callable[[Settings], bool]] = {
    Scope.ANY: lambda settings: True,
    Scope.AWS: modes.creates_aws_resources,
    Scope.GPU_CAPACITY: modes.creates_gpu_capacity,
}

Rule = Callable[[Settings], Iterable[Finding]]
RULES: dict[str, Rule] = {}
SCOPES: dict[str, Scope] = {}


def rule(rule_id: str, *, scope: Scope = Scope.ANY) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        if rule_id in RULES:
            raise ValueError(f"guardrail {rule_id} registered twice")
        RULES[rule_id] = fn
        SCOPES[rule_id] = scope
        return fn

    return register


def applicable(settings: Settings) -> list[str]:
    """Ids of the rules that apply to this stack."""
    return [rule_id for rule_id in RULES if _APPLIES[SCOPES[rule_id]](settings)]


def evaluate(settings: Settings) -> list[Finding]:
    """Every finding of every applicable rule, errors first."""
    findings = [finding for rule_id in applicable(settings) for finding in RULES[rule_id](settings)]
    return sorted(findings, key=lambda f: (f.severity != Severity.ERROR, f.id))


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == Severity.ERROR]


from . import (  # noqa: E402,F401  (registers the rules)
    accelerators,
    autoscaling,
    cluster_mode,
    dra,
    dynamo,
    extra_args,
    gpu_budget,
    instance_types,
    karpenter,
    lora,
    mig,
    model_cache,
    model_fit,
    network,
    pd,
    phases,
    provisioner_keys,
    serving,
    simulation,
)
