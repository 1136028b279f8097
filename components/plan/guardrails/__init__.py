"""Guardrails: checks that run on the resolved settings before anything is registered.

A rule is a pure function ``Settings -> Iterable[Finding]`` registered with
``@rule``. Errors stop the program before any registration; warnings are
reported with ``pulumi.log.warn`` and in the offline plan. Each rule lives in
the module of its concern; importing this package registers them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from ...config import Settings


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    id: str  # stable, documented in the README's guardrail table
    severity: Severity
    key: str  # the configuration key to change, e.g. "llmd-eks:gpu.instanceFamilies"
    message: str  # what is wrong and the fix

    def __str__(self) -> str:
        return f"[{self.id}] {self.key}: {self.message}"


Rule = Callable[[Settings], Iterable[Finding]]
RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        if rule_id in RULES:
            raise ValueError(f"guardrail {rule_id} registered twice")
        RULES[rule_id] = fn
        return fn

    return register


def evaluate(settings: Settings) -> list[Finding]:
    """Every finding of every rule, errors first."""
    findings = [finding for check in RULES.values() for finding in check(settings)]
    return sorted(findings, key=lambda f: (f.severity != Severity.ERROR, f.id))


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == Severity.ERROR]


from . import dra, phases  # noqa: E402,F401  (registers the rules)
