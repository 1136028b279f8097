"""Shared fixtures: run the real program under mocks for a stack configuration."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components import mockrun  # noqa: E402
from components.config import Settings, resolve  # noqa: E402

STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))
HF_TOKEN = "hf_TEST_TOKEN_must_stay_secret_0123456789"

# A stack configuration as a test writes it: top-level keys of the llmd-eks
# namespace ("model", "gpu", ...) or full keys ("aws:region").
Overrides = dict[str, Any]


def stack_config(stack_file: Path) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(stack name, config, secrets) for a committed stack file; secure values get a test token."""
    stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config, secure_keys = mockrun.stack_file_config(stack_file)
    secrets = {key: HF_TOKEN for key in secure_keys}
    for key in secure_keys:
        config.pop(key)
    return stack, config, secrets


def base_config(**overrides: Any) -> dict[str, Any]:
    """The dev stack file's config with top-level keys replaced by ``overrides``."""
    _, config, _ = stack_config(ROOT / "Pulumi.dev.yaml")
    config.update(mockrun.namespaced(overrides))
    return config


def stack_settings(stack: str = "prod", **sections: Any) -> Settings:
    """A committed stack's settings, resolved as the program resolves them, with
    each given section's keys replaced (scalars such as ``phase`` set)."""
    name, config, _ = stack_config(ROOT / f"Pulumi.{stack}.yaml")
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("llmd-eks:")}
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values} if isinstance(values, dict) else values
    return resolve(raw, name, region=config.get("aws:region"))


@pytest.fixture
def run() -> Callable[..., mockrun.Recording]:
    """``run(stack="t", hf_token=False, **overrides)``: run the program with dev config + overrides."""

    def _run(stack: str = "test", hf_token: bool = False, **overrides: Any) -> mockrun.Recording:
        secrets = {"llmd-eks:hfToken": HF_TOKEN} if hf_token else {}
        return mockrun.run_program(stack, base_config(**overrides), secrets)

    return _run
