"""ModelCache: the S3 bucket (or an existing one), the copy Job with its Pod Identity role.

The model servers' read access is a policy (``model_server_policy``) that
ModelServerIdentity attaches to the one role of their ServiceAccount.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from .config import Settings
from .plan import iam
from .plan import model_cache as plan

COPY_SCRIPT_CONFIG_MAP = "llmd-model-cache-copy"


class ModelCache(pulumi.ComponentResource):
    """AWS side at construction; the Kubernetes side (``seed``) once the serving namespace exists."""

    bucket: pulumi.Output[str]
    model_server_policy: pulumi.Output[str]  # IAM policy JSON: read the model's prefix

    def __init__(
        self,
        name: str,
        settings: Settings,
        provider: k8s.Provider,
        *,
        cluster: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("llmd:model_cache:ModelCache", name, None, opts)
        self._name, self._settings, self._provider = name, settings, provider
        cfg = settings.config.model_cache
        child = pulumi.ResourceOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        region = settings.region or ""

        self._bucket_resources: list[pulumi.Resource] = []
        if cfg.bucket:
            self.bucket = pulumi.Output.from_input(cfg.bucket)
        else:
            self.bucket = self._create_bucket(
                account_id.apply(lambda a: plan.bucket_name(settings.cluster_name, a, region))
            )

        self.model_server_policy = self.bucket.apply(lambda b: json.dumps(plan.reader_policy(b, cfg.prefix)))
        namespace, writer = settings.serving.namespace, plan.WRITER_SERVICE_ACCOUNT
        writer_role = aws.iam.Role(
            f"{name}-writer",
            assume_role_policy=account_id.apply(iam.pod_identity_trust),
            description=f"llmd-eks model cache writer: {namespace}/{writer}",
            opts=child,
        )
        self._writer_access: list[pulumi.Resource] = [
            aws.iam.RolePolicy(
                f"{name}-writer",
                role=writer_role.name,
                policy=self.bucket.apply(lambda b: json.dumps(plan.writer_policy(b, cfg.prefix))),
                opts=child,
            ),
            aws.eks.PodIdentityAssociation(
                f"{name}-writer",
                cluster_name=settings.cluster_name,
                namespace=namespace,
                service_account=writer,
                role_arn=writer_role.arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
            ),
        ]
        self.register_outputs({"bucket": self.bucket, "uri": self.bucket.apply(lambda b: plan.model_uri(settings, b))})

    def _create_bucket(self, bucket_name: pulumi.Output[str]) -> pulumi.Output[str]:
        """Private, encrypted, unversioned (a cache of public artifacts), TLS only; failed uploads cleaned up."""
        name, settings = self._name, self._settings
        # Never protected, even in a protected stack: a cache can be re-filled, and
        # turning modelCache off must be able to remove it.
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=bucket_name,
            # A cache: `pulumi destroy` (or modelCache.enabled: false) deletes the copied models with it.
            force_destroy=True,
            tags={"llmd-eks/stack": settings.stack, "llmd-eks/purpose": "model-cache"},
            opts=child,
        )
        after_bucket = pulumi.ResourceOptions(parent=self, depends_on=[bucket])
        self._bucket_resources = [
            bucket,
            aws.s3.BucketPublicAccessBlock(
                f"{name}-public-access-block",
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
                opts=after_bucket,
            ),
            aws.s3.BucketOwnershipControls(
                f"{name}-ownership",
                bucket=bucket.id,
                rule={"object_ownership": "BucketOwnerEnforced"},
                opts=after_bucket,
            ),
            aws.s3.BucketServerSideEncryptionConfiguration(
                f"{name}-encryption",
                bucket=bucket.id,
                rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
                opts=after_bucket,
            ),
            aws.s3.BucketLifecycleConfiguration(
                f"{name}-lifecycle",
                bucket=bucket.id,
                rules=[
                    {
                        "id": "abort-incomplete-uploads",
                        "status": "Enabled",
                        "filter": {},
                        "abort_incomplete_multipart_upload": {
                            "days_after_initiation": plan.ABORT_INCOMPLETE_UPLOADS_DAYS
                        },
                    }
                ],
                opts=after_bucket,
            ),
            aws.s3.BucketPolicy(
                f"{name}-tls-only",
                bucket=bucket.id,
                policy=bucket.bucket.apply(lambda b: json.dumps(plan.tls_only_bucket_policy(b))),
                opts=after_bucket,
            ),
        ]
        return bucket.bucket

    def seed(self, namespace: pulumi.Input[str], after: Sequence[pulumi.Resource]) -> k8s.batch.v1.Job:
        """The Job that copies the model into the bucket unless it is there; model pods wait for it.

        ``after``: what the Job needs in the namespace first (the HF token Secret).
        """
        name, settings = self._name, self._settings
        on_cluster = pulumi.ResourceOptions(parent=self, provider=self._provider)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-writer",
            metadata={"name": plan.WRITER_SERVICE_ACCOUNT, "namespace": namespace},
            opts=on_cluster,
        )
        script = k8s.core.v1.ConfigMap(
            f"{name}-copy-script",
            metadata={"name": COPY_SCRIPT_CONFIG_MAP, "namespace": namespace},
            data={plan.COPY_SCRIPT_KEY: plan.copy_script()},
            opts=on_cluster,
        )
        return k8s.batch.v1.Job(
            f"{name}-copy",
            metadata={"name": plan.copy_job_name(settings), "namespace": namespace},
            spec=self.bucket.apply(lambda b: plan.copy_job_spec(settings, b, COPY_SCRIPT_CONFIG_MAP)),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=self._provider,
                # Credentials are injected at pod creation: the association must exist first.
                depends_on=[account, script, *self._writer_access, *self._bucket_resources, *after],
                # A changed template is immutable: replace the Job under the same name.
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create=plan.COPY_TIMEOUT, update=plan.COPY_TIMEOUT),
            ),
        )
