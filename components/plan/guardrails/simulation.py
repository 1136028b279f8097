"""``model.simulate``: settings that do nothing for the simulator, or nothing without it."""

from __future__ import annotations

from collections.abc import Iterator

from ...config import NAMESPACE, Settings
from . import Finding, Severity, rule


@rule("GR-SIM-EXTRA-ARGS")
def simulator_ignores_vllm_args(settings: Settings) -> Iterator[Finding]:
    model = settings.model
    if model.simulate and model.extra_args:
        yield Finding(
            "GR-SIM-EXTRA-ARGS",
            Severity.WARNING,
            f"{NAMESPACE}:model.extraArgs",
            f"{model.extra_args} are vLLM arguments and are not given to the simulator, which exits on flags it "
            "does not know; they apply again when model.simulate is false.",
        )


@rule("GR-SIM-SETTINGS-UNUSED")
def simulator_settings_need_simulate(settings: Settings) -> Iterator[Finding]:
    model = settings.model
    if not model.simulate and "simulator" in model.model_fields_set:
        yield Finding(
            "GR-SIM-SETTINGS-UNUSED",
            Severity.WARNING,
            f"{NAMESPACE}:model.simulator",
            "the simulator's latencies apply only with model.simulate: true; vLLM on GPUs ignores them.",
        )
