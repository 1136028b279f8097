"""S3 model cache: bucket name, IAM policy documents, vLLM settings and the copy Job.

Model servers stream weights straight from ``s3://<bucket>/<prefix><model>``
with vLLM's Run:ai streamer (``--load-format runai_streamer``). Through EKS Pod
Identity (see ``pod_identity``) the model servers' role gets ``reader_policy``
and the copy Job's ServiceAccount a role with ``writer_policy`` on the same prefix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import versions
from ..config import Settings
from .names import HF_TOKEN_KEY, HF_TOKEN_SECRET, model_label

COPY_SCRIPT = Path(__file__).resolve().parent.parent / "jobs" / "copy_model_to_s3.py"
COPY_SCRIPT_KEY = "copy_model_to_s3.py"
WRITER_SERVICE_ACCOUNT = "llmd-model-cache-writer"
COPY_WORK_DIR = "/work"
COPY_DISK_LIMIT = "60Gi"  # room for the largest single file, never the whole model
COPY_DEADLINE_S = 3 * 3600
COPY_TIMEOUT = "3h"  # how long `pulumi up` waits for the Job
ABORT_INCOMPLETE_UPLOADS_DAYS = 1


def bucket_name(cluster_name: str, account_id: str, region: str) -> str:
    """A created bucket's name: unique per account and region, at most 63 characters."""
    suffix = f"-model-cache-{account_id}-{region}"
    head = "".join(c if c.isalnum() else "-" for c in cluster_name.lower())
    return f"{head[: 63 - len(suffix)].strip('-')}{suffix}"


def key_prefix(settings: Settings) -> str:
    """``<prefix><org>/<repo>/``: where this model's files live in the bucket."""
    return f"{settings.config.model_cache.prefix}{settings.model.name}/"


def model_uri(settings: Settings, bucket: str) -> str:
    return f"s3://{bucket}/{key_prefix(settings).rstrip('/')}"


# ---- IAM ---------------------------------------------------------------------


def _prefix_arns(bucket: str, prefix: str) -> tuple[str, str]:
    return f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{prefix}*"


def _list_statement(bucket: str, prefix: str) -> dict[str, Any]:
    bucket_arn, _ = _prefix_arns(bucket, prefix)
    return {
        "Sid": "ListThePrefix",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": bucket_arn,
        "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
    }


def reader_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """Model servers: list and read objects under the prefix, nothing else."""
    _, objects = _prefix_arns(bucket, prefix)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _list_statement(bucket, prefix),
            {"Sid": "ReadThePrefix", "Effect": "Allow", "Action": "s3:GetObject", "Resource": objects},
        ],
    }


def writer_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """The copy Job: read and write objects under the prefix; no delete, no bucket settings."""
    _, objects = _prefix_arns(bucket, prefix)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _list_statement(bucket, prefix),
            {
                "Sid": "WriteThePrefix",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": objects,
            },
        ],
    }


def tls_only_bucket_policy(bucket: str) -> dict[str, Any]:
    bucket_arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


# ---- model servers -------------------------------------------------------------


def vllm_args(settings: Settings, bucket: str) -> list[str]:
    # The chart's `vllm serve` passes no model for an s3:// URI; --model supplies it.
    return ["--model", model_uri(settings, bucket), "--load-format", "runai_streamer"]


def vllm_env(settings: Settings) -> list[dict[str, Any]]:
    return [{"name": "AWS_REGION", "value": settings.region}] if settings.region else []


# ---- the copy Job ---------------------------------------------------------------


def copy_job_name(settings: Settings) -> str:
    return f"llmd-model-cache-{model_label(settings.model.name)}"[:63].rstrip("-.")


def copy_script() -> str:
    return COPY_SCRIPT.read_text()


def copy_job_spec(settings: Settings, bucket: str, script_config_map: str) -> dict[str, Any]:
    ops = versions.OPERATIONS
    env: list[dict[str, Any]] = [
        {"name": "MODEL", "value": settings.model.name},
        {"name": "BUCKET", "value": bucket},
        {"name": "KEY_PREFIX", "value": key_prefix(settings)},
        {"name": "WORK_DIR", "value": f"{COPY_WORK_DIR}/files"},
        {"name": "HOME", "value": COPY_WORK_DIR},
        {"name": "TMPDIR", "value": f"{COPY_WORK_DIR}/tmp"},  # the root filesystem is read-only
        {"name": "HF_HOME", "value": f"{COPY_WORK_DIR}/hf"},
        {"name": "PYTHONPATH", "value": f"{COPY_WORK_DIR}/site"},
        *vllm_env(settings),
    ]
    if settings.has_hf_token:
        env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": HF_TOKEN_SECRET, "key": HF_TOKEN_KEY}}})
    packages = " ".join(ops.model_copy_packages)
    command = (
        f"mkdir -p {COPY_WORK_DIR}/files {COPY_WORK_DIR}/tmp && "
        f"pip install --quiet --no-cache-dir --target {COPY_WORK_DIR}/site {packages} && "
        f"exec python /scripts/{COPY_SCRIPT_KEY}"
    )
    return {
        "backoffLimit": 3,
        "activeDeadlineSeconds": COPY_DEADLINE_S,
        "template": {
            "metadata": {
                "labels": {
                    "app.kubernetes.io/name": "llmd-model-cache",
                    "llm-d.ai/model": model_label(settings.model.name),
                }
            },
            "spec": {
                "serviceAccountName": WRITER_SERVICE_ACCOUNT,
                "restartPolicy": "Never",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000},
                "containers": [
                    {
                        "name": "copy",
                        "image": ops.model_copy_image.ref,
                        "command": ["sh", "-c", command],
                        "env": env,
                        "resources": {
                            "requests": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "20Gi"},
                            "limits": {"memory": "4Gi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [
                            {"name": "work", "mountPath": COPY_WORK_DIR},
                            {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
                        ],
                    }
                ],
                "volumes": [
                    {"name": "work", "emptyDir": {"sizeLimit": COPY_DISK_LIMIT}},
                    {"name": "scripts", "configMap": {"name": script_config_map}},
                ],
            },
        },
    }
