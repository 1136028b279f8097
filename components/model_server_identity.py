"""ModelServerIdentity: the one Pod Identity role and association of the model-server ServiceAccount.

EKS allows a single association per namespace/ServiceAccount, so every
feature that lets the model servers read S3 adds an inline policy to this
role; switching a feature on or off adds or removes its policy and leaves the
association in place.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from .config import Settings
from .model_cache import ModelCache
from .plan import iam, lora, pod_identity


class ModelServerIdentity(pulumi.ComponentResource):
    access: list[pulumi.Resource]  # the model pods must start after these (credentials are injected at creation)

    def __init__(
        self,
        name: str,
        settings: Settings,
        *,
        cluster: pulumi.Resource,
        model_cache: ModelCache | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("llmd:model_server_identity:ModelServerIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        namespace, service_account = settings.serving.namespace, pod_identity.model_server_service_account()

        role = aws.iam.Role(
            name,
            assume_role_policy=account_id.apply(iam.pod_identity_trust),
            description=f"llmd-eks model servers: {namespace}/{service_account}",
            opts=child,
        )
        policies: dict[str, pulumi.Input[str]] = {}
        if model_cache is not None:
            policies["model-cache"] = model_cache.model_server_policy
        adapters = lora.s3_locations(settings)
        if adapters:
            policies["lora-adapters"] = json.dumps(lora.read_policy(adapters))
        grants = [
            aws.iam.RolePolicy(f"{name}-{purpose}", role=role.name, policy=policy, opts=child)
            for purpose, policy in policies.items()
        ]
        association = aws.eks.PodIdentityAssociation(
            name,
            cluster_name=settings.cluster_name,
            namespace=namespace,
            service_account=service_account,
            role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
        )
        self.access = [*grants, association]
        self.register_outputs({"roleArn": role.arn})
