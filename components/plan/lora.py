"""LoRA adapters: vLLM and simulator flags, the S3 fetch before vLLM starts, and the S3 read grant.

vLLM loads an adapter from Hugging Face or a local folder. An ``s3://`` adapter
is therefore copied into a pod-local ``emptyDir`` by one init container per
adapter (the AWS CLI, with the model-server ServiceAccount's Pod Identity
credentials), and vLLM is given that folder. The simulator (``model.simulate``)
serves the adapters by name and loads nothing, so nothing is fetched for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .. import versions
from ..config import LoraAdapter, S3Location, Settings
from . import modes

# vLLM's LoRA buffers hold adapters up to this rank unless told otherwise (--max-lora-rank); it rejects
# a higher-rank adapter when loading it ("LoRA rank 32 is greater than max_lora_rank 16").
MAX_RANK_FLAG = "--max-lora-rank"
VLLM_DEFAULT_MAX_RANK = 16
# vLLM's /v1/load_lora_adapter and /v1/unload_lora_adapter answer only with this set.
RUNTIME_UPDATES_ENV = {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"}

ADAPTERS_VOLUME = "lora-adapters"
ADAPTERS_DIR = "/adapters"
# Adapters are megabytes to a few GB; a wrong folder (a whole model) fails the pod, not the node's disk.
ADAPTERS_DISK_LIMIT = "20Gi"
FETCH_USER = 1000
# Values come from the environment, never from the script text: a source is never parsed by a shell.
# vLLM reads adapter_config.json first; without it the adapter cannot load, so the pod stops here.
FETCH_SCRIPT = (
    'aws s3 sync --no-progress "$SOURCE" "$TARGET" && '
    'if [ ! -f "$TARGET/adapter_config.json" ]; then '
    'echo "$SOURCE holds no adapter_config.json: is it the adapter\'s folder?" >&2; exit 1; fi'
)


def s3_adapters(settings: Settings) -> list[LoraAdapter]:
    """The ``s3://`` adapters vLLM fetches (none for the simulator, which loads no adapter)."""
    if not modes.uses_gpus(settings):
        return []
    return [a for a in settings.model.lora_adapters if a.s3_location is not None]


def fetches_from_s3(settings: Settings) -> bool:
    return bool(s3_adapters(settings))


def local_path(adapter: LoraAdapter) -> str:
    return f"{ADAPTERS_DIR}/{adapter.name}"


def sets_max_rank(settings: Settings) -> bool:
    """``model.extraArgs`` gives vLLM ``--max-lora-rank`` (as ``--max-lora-rank N`` or ``=N``)."""
    return any(arg.split("=", 1)[0] == MAX_RANK_FLAG for arg in settings.model.extra_args)


def vllm_args(settings: Settings) -> list[str]:
    adapters = settings.model.lora_adapters
    if not adapters:
        return []
    # `name=org/repo`: vLLM resolves a path that is not local as a Hugging Face repository.
    modules = [f"{a.name}={a.hf_repo or local_path(a)}" for a in adapters]
    return ["--enable-lora", "--max-loras", str(len(adapters)), "--lora-modules", *modules]


def simulator_args(settings: Settings) -> list[str]:
    """llm-d-inference-sim (v0.8.1): ``--lora-modules`` takes one JSON object per adapter (every argument
    up to the next flag) and registers its name, so requests for it are served and routed like vLLM's;
    the path is not read."""
    adapters = settings.model.lora_adapters
    if not adapters:
        return []
    modules = [json.dumps({"name": a.name, "path": a.source}, separators=(",", ":")) for a in adapters]
    return ["--max-loras", str(len(adapters)), "--lora-modules", *modules]


def vllm_env(settings: Settings) -> list[dict[str, Any]]:
    return [dict(RUNTIME_UPDATES_ENV)] if settings.model.lora_adapters else []


def adapters_output(settings: Settings) -> list[dict[str, str]]:
    """The ``loraAdapters`` stack output: request one with ``"model": <name>``."""
    return [{"name": a.name, "source": a.source} for a in settings.model.lora_adapters]


# ---- the fetch before vLLM starts ------------------------------------------------------


def adapters_volume() -> dict[str, Any]:
    return {"name": ADAPTERS_VOLUME, "emptyDir": {"sizeLimit": ADAPTERS_DISK_LIMIT}}


def adapters_mount() -> dict[str, Any]:
    """vLLM's view of the fetched adapters: it only reads them."""
    return {"name": ADAPTERS_VOLUME, "mountPath": ADAPTERS_DIR, "readOnly": True}


def fetch_init_containers(settings: Settings) -> list[dict[str, Any]]:
    """One init container per ``s3://`` adapter, in ``model.loraAdapters`` order."""
    image = versions.OPERATIONS.adapter_fetch_image.ref
    region = [{"name": "AWS_REGION", "value": settings.region}] if settings.region else []
    return [
        {
            "name": f"fetch-lora-{index}",
            "image": image,
            "command": ["/bin/sh", "-c", FETCH_SCRIPT],
            "env": [
                {"name": "SOURCE", "value": adapter.source},
                {"name": "TARGET", "value": local_path(adapter)},
                {"name": "HOME", "value": "/tmp"},  # the CLI's home; the image's is root's
                *region,
            ],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": FETCH_USER,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
            "volumeMounts": [{"name": ADAPTERS_VOLUME, "mountPath": ADAPTERS_DIR}],
        }
        for index, adapter in enumerate(s3_adapters(settings))
    ]


# ---- IAM: read exactly the adapters' folders ------------------------------------------------


def s3_locations(settings: Settings) -> list[S3Location]:
    return [a.s3_location for a in s3_adapters(settings) if a.s3_location is not None]


def read_policy(locations: Iterable[S3Location]) -> dict[str, Any]:
    """List each adapter folder and read its objects; nothing else in any bucket.

    ``aws s3 sync s3://b/f`` lists with the prefix ``f/``, which ``f/*`` matches;
    the trailing slash keeps a sibling folder (``f-v2/``) out of the grant.
    """
    prefixes: dict[str, set[str]] = {}
    for location in locations:
        prefixes.setdefault(location.bucket, set()).add(location.prefix)
    if not prefixes:
        raise ValueError("no s3:// adapter to grant access to")
    listing = [
        {
            "Sid": f"ListAdapterFolders{index}",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in sorted(prefixes[bucket])]}},
        }
        for index, bucket in enumerate(sorted(prefixes))
    ]
    objects = [f"arn:aws:s3:::{bucket}/{p}*" for bucket in sorted(prefixes) for p in sorted(prefixes[bucket])]
    return {
        "Version": "2012-10-17",
        "Statement": [
            *listing,
            {"Sid": "ReadAdapterObjects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": objects},
        ],
    }
