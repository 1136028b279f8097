"""Read the ``llmd-eks:`` namespace from the Pulumi engine into plain data."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .config import NAMESPACE, SECRET_KEYS, ConfigError, Settings, resolve


def engine_values(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file values as the engine hands them to a program: every value a
    string, objects and lists as JSON (so ``phase: 1`` arrives as ``"1"``)."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


# Namespaces of the providers and the engine a stack file may hold besides ours.
OTHER_NAMESPACES = frozenset({"aws", "kubernetes", "pulumi", "eks"})
_MISSPELT = 0.75  # difflib ratio from which a namespace reads as a misspelt llmd-eks (llmdeks: 0.93)


def misspelt_namespace(namespace: str) -> bool:
    """``llmdeks``, ``llmd_eks``, ``LLMD-EKS``: keys the program would otherwise skip without a word."""
    if namespace == NAMESPACE or namespace in OTHER_NAMESPACES:
        return False
    return difflib.SequenceMatcher(None, namespace.lower(), NAMESPACE).ratio() >= _MISSPELT


def namespace_values(engine_config: Mapping[str, Any], secret_keys: Collection[str]) -> dict[str, Any]:
    """The ``llmd-eks:`` keys without the namespace, objects decoded from JSON.

    Secrets stay out of plain data; one set without ``--secret`` is refused,
    since it would sit in plain text in the stack file and the state. A key whose
    namespace is a misspelt ``llmd-eks`` is refused: skipped, the defaults would deploy.
    """
    raw: dict[str, Any] = {}
    problems = []
    for full_key, value in engine_config.items():
        namespace, _, key = full_key.partition(":")
        if misspelt_namespace(namespace):
            problems.append(
                f"{full_key}: the namespace {namespace!r} is not {NAMESPACE!r}, so this key would be ignored "
                f"and the defaults deployed; did you mean {NAMESPACE}:{key}?"
            )
            continue
        if namespace != NAMESPACE:
            continue
        if key in SECRET_KEYS:
            if full_key not in secret_keys:
                problems.append(f"{full_key}: set it as a secret: pulumi config set --secret {key} <value>")
            continue
        if isinstance(value, str) and value.startswith(("{", "[")):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                problems.append(f"{full_key}: not valid JSON ({error.msg}); write it as a YAML object or list")
                continue
        raw[key] = value
    if problems:
        raise ConfigError(problems)
    return raw


def _all_keys() -> dict[str, Any]:
    # The engine hands the program its whole config map; reading it all (not
    # key by key) is what lets a misspelt top-level key be reported.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def _secret_keys(keys: Collection[str]) -> set[str]:
    return {key for key in keys if runtime_config.is_config_secret(key)}


def load_settings() -> Settings:
    every = _all_keys()
    raw = namespace_values(every, _secret_keys(every))
    region = pulumi.Config("aws").get("region")
    return resolve(raw, pulumi.get_stack(), has_hf_token=hf_token() is not None, region=region)


def hf_token() -> pulumi.Output[str] | None:
    return pulumi.Config(NAMESPACE).get_secret("hfToken")
