"""LoRA adapters: vLLM flags for the configured adapters and runtime (un)loading."""

from __future__ import annotations

from typing import Any

from ..config import Settings

# vLLM's /v1/load_lora_adapter and /v1/unload_lora_adapter answer only with this set.
RUNTIME_UPDATES_ENV = {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"}


def vllm_args(settings: Settings) -> list[str]:
    adapters = settings.model.lora_adapters
    if not adapters:
        return []
    # `name=org/repo`: vLLM resolves a path that is not local as a Hugging Face repository.
    modules = [f"{a.name}={a.hf_repo}" for a in adapters]
    return ["--enable-lora", "--max-loras", str(len(adapters)), "--lora-modules", *modules]


def vllm_env(settings: Settings) -> list[dict[str, Any]]:
    return [dict(RUNTIME_UPDATES_ENV)] if settings.model.lora_adapters else []


def adapters_output(settings: Settings) -> list[dict[str, str]]:
    """The ``loraAdapters`` stack output: request one with ``"model": <name>``."""
    return [{"name": a.name, "source": a.source} for a in settings.model.lora_adapters]
