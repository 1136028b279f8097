"""Everything that must hold before the first resource is registered."""

from __future__ import annotations

import pulumi

from .config import ConfigError, Settings, not_implemented
from .plan import guardrails
from .pulumi_config import load_settings


def preflight() -> tuple[Settings, list[guardrails.Finding]]:
    """Load the stack configuration and run the guardrails.

    Raises ``pulumi.RunError`` (a message, not a traceback) for invalid
    configuration, unbuilt features and guardrail errors; reports warnings.
    """
    try:
        settings = load_settings()
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
    findings = guardrails.evaluate(settings)
    problems = not_implemented(settings) + [str(f) for f in guardrails.errors(findings)]
    if problems:
        raise pulumi.RunError(str(ConfigError(problems)))
    for finding in findings:
        pulumi.log.warn(str(finding))
    return settings, findings
