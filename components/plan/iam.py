"""IAM trust policies shared by the components that create roles."""

from __future__ import annotations

import json


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
            ],
        }
    )


EC2_TRUST = _trust("ec2.amazonaws.com")  # node roles
POD_IDENTITY_TRUST = _trust("pods.eks.amazonaws.com")  # roles bound to service accounts by EKS Pod Identity
