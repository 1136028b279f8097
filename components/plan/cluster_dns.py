"""Cluster DNS for the nodes outside Auto Mode (phases 2a, 2b and 3).

What this relies on (sources in the README, "Cluster DNS outside Auto Mode"):

- An Auto Mode node answers its pods' DNS itself (CoreDNS as a system service on
  the node); an Auto Mode cluster has no CoreDNS Deployment. Nodes outside Auto
  Mode (a managed node group, self-managed Karpenter) cannot use that service and
  need the ``coredns`` EKS add-on (EKS user guide: auto-networking, eks-add-ons).
- The ``coredns`` add-on lists EKS Auto Mode among its compatible compute types,
  so its pods may run on Auto Mode nodes (EKS user guide, AWS add-ons table).
- Its configuration schema takes ``affinity`` (any object), ``nodeSelector`` and
  ``tolerations`` (tests/reference_extra/coredns-addon-v1.11.1-eksbuild.8).
- A non-Auto node's kubelet points pods at the service CIDR's ``.10``
  (nodeadm's fallback; Karpenter passes the ``kube-dns`` Service's IP), which is
  the ``kube-dns`` Service the add-on creates.

Not verified here (no AWS): that the add-on versions for Kubernetes 1.34+ keep
that schema and accept these values, and how long Auto Mode takes to start a
node for the two replicas when none is running.
"""

from __future__ import annotations

from typing import Any

ADDON = "coredns"
COMPUTE_TYPE_LABEL = "eks.amazonaws.com/compute-type"  # "auto" on every Auto Mode node


def addon_configuration() -> dict[str, Any]:
    """``coredns`` configuration values: both replicas on Auto Mode nodes, on different hosts.

    On Auto Mode nodes the add-on turns ACTIVE without any GPU node, so it can be
    created before GPU capacity exists, and no GPU node is kept running for DNS
    (the GPU taint is not tolerated). The whole affinity is given, the add-on's
    default (linux, amd64/arm64, spread over hosts) plus the compute type, so the
    result does not depend on how a version merges it with its own default.
    """
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
                                {"key": COMPUTE_TYPE_LABEL, "operator": "In", "values": ["auto"]},
                            ]
                        }
                    ]
                }
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {
                                "matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]
                            },
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            },
        }
    }
