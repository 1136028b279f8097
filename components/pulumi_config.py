"""Read the ``llmd-eks:`` namespace from the Pulumi engine into plain data."""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .config import NAMESPACE, SECRET_KEYS, Settings, resolve


def _all_keys() -> dict[str, Any]:
    # The engine hands the program its whole config map; reading it all (not
    # key by key) is what lets a misspelt top-level key be reported.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def raw_config() -> dict[str, Any]:
    """Every ``llmd-eks:`` key except secrets, objects decoded from JSON."""
    raw: dict[str, Any] = {}
    for full_key, value in _all_keys().items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE or key in SECRET_KEYS:
            continue
        if isinstance(value, str) and value[:1] in "{[":
            value = json.loads(value)
        raw[key] = value
    return raw


def load_settings() -> Settings:
    region = pulumi.Config("aws").get("region")
    return resolve(raw_config(), pulumi.get_stack(), has_hf_token=hf_token() is not None, region=region)


def hf_token() -> pulumi.Output[str] | None:
    return pulumi.Config(NAMESPACE).get_secret("hfToken")
