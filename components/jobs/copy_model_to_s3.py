"""Copy a Hugging Face model into the S3 model cache, once.

Runs in the one-off Kubernetes Job of the model cache (stock Python image,
``huggingface-hub`` and ``boto3`` installed at start). Files are copied one
at a time, so the pod needs disk for the largest file only, not the model.
A marker object written last tells later runs the copy is complete; a copy
interrupted half-way is simply redone.

Environment: MODEL (org/repo), BUCKET, KEY_PREFIX (``<prefix><org>/<repo>/``),
WORK_DIR, optional HF_TOKEN; AWS credentials come from EKS Pod Identity.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

MARKER = ".llmd-eks-complete"
# vLLM's Run:ai streamer loads safetensors only; other weight formats would double the copy for nothing.
SKIPPED = ("*.bin", "*.pt", "*.pth", "*.h5", "*.msgpack", "*.onnx", "*.gguf", "original/*", ".gitattributes")


class S3(Protocol):
    def list_objects_v2(self, *, Bucket: str, Prefix: str, MaxKeys: int) -> dict[str, Any]: ...  # noqa: N803 (boto3 names)
    def upload_file(self, Filename: str, Bucket: str, Key: str) -> None: ...  # noqa: N803
    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> Any: ...  # noqa: N803


Download = Callable[[str, str], str]  # (filename in repo, local dir) -> local path


def files_to_copy(repo_files: Iterable[str]) -> list[str]:
    files = sorted(f for f in repo_files if not any(fnmatch.fnmatch(f, pattern) for pattern in SKIPPED))
    if not any(f.endswith(".safetensors") for f in files):
        raise SystemExit("the model has no .safetensors weights; vLLM's runai_streamer loader needs them")
    return files


def is_cached(s3: S3, bucket: str, key_prefix: str) -> bool:
    """Whether the marker exists.

    A listing, not HeadObject: with ListBucket granted on the prefix only, S3
    answers HeadObject on a missing key with 403, not 404.
    """
    marker = key_prefix + MARKER
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=marker, MaxKeys=1)
    return any(item.get("Key") == marker for item in listing.get("Contents", []))


def copy(repo_files: Iterable[str], download: Download, s3: S3, bucket: str, key_prefix: str, work_dir: Path) -> int:
    """Download each file, upload it, delete it; the marker goes last. Returns the number of files."""
    files = files_to_copy(repo_files)
    for name in files:
        local = Path(download(name, str(work_dir)))
        s3.upload_file(str(local), bucket, key_prefix + name)
        local.unlink()
        print(f"copied {name}", flush=True)
    s3.put_object(Bucket=bucket, Key=key_prefix + MARKER, Body=b"")
    return len(files)


def main() -> int:
    import boto3
    from huggingface_hub import HfApi, hf_hub_download

    model, bucket, key_prefix = os.environ["MODEL"], os.environ["BUCKET"], os.environ["KEY_PREFIX"]
    token = os.environ.get("HF_TOKEN") or None
    s3 = boto3.client("s3")
    if is_cached(s3, bucket, key_prefix):
        print(f"s3://{bucket}/{key_prefix} is complete; nothing to copy", flush=True)
        return 0

    def download(name: str, local_dir: str) -> str:
        return hf_hub_download(model, name, local_dir=local_dir, token=token)

    count = copy(
        HfApi().list_repo_files(model, token=token), download, s3, bucket, key_prefix, Path(os.environ["WORK_DIR"])
    )
    print(f"copied {count} files of {model} to s3://{bucket}/{key_prefix}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
