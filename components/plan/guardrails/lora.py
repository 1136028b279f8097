"""LoRA adapters: where they apply."""

from __future__ import annotations

from collections.abc import Iterator

from ...config import NAMESPACE, Settings
from . import Finding, Severity, rule


@rule("GR-SIM-LORA")
def simulator_gets_no_adapters(settings: Settings) -> Iterator[Finding]:
    if settings.model.simulate and settings.model.lora_adapters:
        yield Finding(
            "GR-SIM-LORA",
            Severity.WARNING,
            f"{NAMESPACE}:model.loraAdapters",
            "LoRA adapters are vLLM flags and are not given to the simulator; they apply when model.simulate is false.",
        )
