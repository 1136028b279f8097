"""IAM trust policies, one definition for every role the program creates."""

from __future__ import annotations

import json
from typing import Any

POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"


def trust_policy(service: str, source_account: str | None = None) -> dict[str, Any]:
    """``service`` may assume the role and tag the session (EKS Pod Identity always
    tags it); with ``source_account``, only on behalf of that account."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return {"Version": "2012-10-17", "Statement": [statement]}


EC2_TRUST = json.dumps(trust_policy("ec2.amazonaws.com"))  # node roles
POD_IDENTITY_TRUST = json.dumps(trust_policy(POD_IDENTITY_PRINCIPAL))  # roles bound to service accounts


def pod_identity_trust(account_id: str) -> str:
    """EKS Pod Identity of ``account_id`` only (for roles that reach data: S3 buckets)."""
    return json.dumps(trust_policy(POD_IDENTITY_PRINCIPAL, source_account=account_id))
