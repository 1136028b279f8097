"""A program with the Prometheus Operator CRDs present: GpuOperator must ask for the DCGM
ServiceMonitor and wait for the ServiceMonitor CRD (tests/test_gpu_operator.py runs it)."""

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.gpu_operator import GpuOperator
from components.preflight import preflight
from tests.contracts import REFERENCE_DIR

settings, _ = preflight()
provider = k8s.Provider("k8s", kubeconfig="{}")
document = yaml.safe_load((REFERENCE_DIR / "crds" / "monitoring.coreos.com_servicemonitors.yaml").read_text())
service_monitor_crd = k8s.apiextensions.v1.CustomResourceDefinition(
    "servicemonitors",
    metadata={"name": document["metadata"]["name"]},
    spec=document["spec"],
    opts=pulumi.ResourceOptions(provider=provider),
)
GpuOperator("gpu-operator", settings, provider, auto_mode_nodes=True, monitoring_crds=[service_monitor_crd])
