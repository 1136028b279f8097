"""Pinned version profiles: every chart, manifest and image the program deploys.

A profile is selected by ``llmd-eks:serving.release``. Adding a profile is adding
a row to ``PROFILES``; components read versions only from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HelmChart:
    """A Helm chart pinned to one version, from a classic repository or an OCI registry."""

    chart: str
    version: str
    repository: str | None = None  # None: ``chart`` is an ``oci://`` reference

    def __post_init__(self) -> None:
        if self.repository is None and not self.chart.startswith("oci://"):
            raise ValueError(f"chart {self.chart!r} needs a repository or an oci:// reference")


@dataclass(frozen=True)
class Manifest:
    """A pinned multi-document YAML manifest published as a release asset."""

    version: str
    url: str


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str

    @property
    def hub(self) -> str:
        return self.repository.rsplit("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.rsplit("/", 1)[1]

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class SimulatorImage(Image):
    """llm-d's vLLM simulator, with the KV-cache metric name that version emits."""

    kv_cache_metric: str


@dataclass(frozen=True)
class VersionProfile:
    name: str
    gateway_api_crds: Manifest
    gaie_crds: Manifest
    istio_base: HelmChart
    istiod: HelmChart
    # serving.gateway agentgateway: the CRD chart (agentgateway.dev kinds only) and the controller.
    agentgateway_crds: HelmChart
    agentgateway: HelmChart
    llm_d_infra: HelmChart
    inferencepool: HelmChart
    modelservice: HelmChart
    epp_image: Image
    # The Prometheus metric the endpoint picker reads for KV-cache utilisation (vLLM's
    # name; the dashboard and the KV-cache alert read it too, plan.observability);
    # the simulator's must be the same or kv-cache-utilization-scorer sees nothing.
    epp_kv_cache_metric: str
    vllm_image: Image
    # Decode pods' sidecar in the pd-disaggregation path: it sends each prompt
    # to the prefill pod the endpoint picker chose, then decodes locally.
    routing_sidecar_image: Image
    simulator_image: SimulatorImage
    # The plugin file the inferencepool chart writes into the endpoint picker's
    # ConfigMap (epplib's _config.yaml): prefix-cache-scorer 3, queue-scorer 2,
    # kv-cache-utilization-scorer 2 (the upstream default).
    epp_plugins_config_file: str

    def crd_manifests(self) -> dict[str, Manifest]:
        """The cluster-wide CRD manifests, by their ``versions`` output key: deployed in every phase."""
        return {"gatewayApiCrds": self.gateway_api_crds, "gaieCrds": self.gaie_crds}

    def deployed_crds(self) -> dict[str, str]:
        return {key: manifest.version for key, manifest in self.crd_manifests().items()}

    def deployed(self, gateway: str, simulate: bool = False) -> dict[str, str]:
        """What the ``versions`` stack output reports for llm-d: the CRDs, the gateway control plane
        and model-server image in use."""
        control_plane = {"istio": self.istiod, "agentgateway": self.agentgateway}[gateway]
        model_server = {"simulator": self.simulator_image.ref} if simulate else {"vllm": self.vllm_image.ref}
        return {
            "profile": self.name,
            **self.deployed_crds(),
            gateway: control_plane.version,
            "llmDInfra": self.llm_d_infra.version,
            "inferencepool": self.inferencepool.version,
            "llmDModelservice": self.modelservice.version,
            "endpointPicker": self.epp_image.ref,
            **model_server,
        }


_ISTIO_REPO = "https://istio-release.storage.googleapis.com/charts"
_AGENTGATEWAY_CHARTS = "oci://cr.agentgateway.dev/charts"

PROFILES: dict[str, VersionProfile] = {
    "v0.6": VersionProfile(
        name="v0.6",
        gateway_api_crds=Manifest(
            "v1.5.1",
            "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml",
        ),
        gaie_crds=Manifest(
            "v1.4.0",
            "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/v1.4.0/manifests.yaml",
        ),
        istio_base=HelmChart("base", "1.29.1", _ISTIO_REPO),
        istiod=HelmChart("istiod", "1.29.1", _ISTIO_REPO),
        # llm-d's v0.6-era gateway-provider guide (agentgateway.helmfile.yaml) pins v1.0.0.
        agentgateway_crds=HelmChart(f"{_AGENTGATEWAY_CHARTS}/agentgateway-crds", "v1.0.0"),
        agentgateway=HelmChart(f"{_AGENTGATEWAY_CHARTS}/agentgateway", "v1.0.0"),
        llm_d_infra=HelmChart("llm-d-infra", "v1.4.0", "https://llm-d-incubation.github.io/llm-d-infra/"),
        inferencepool=HelmChart("oci://registry.k8s.io/gateway-api-inference-extension/charts/inferencepool", "v1.4.0"),
        modelservice=HelmChart(
            "llm-d-modelservice", "v0.4.9", "https://llm-d-incubation.github.io/llm-d-modelservice/"
        ),
        epp_image=Image("ghcr.io/llm-d/llm-d-inference-scheduler", "v0.7.0"),
        # Scheduler v0.7.0 builds on GAIE v1.4.0, whose vLLM default is
        # vllm:kv_cache_usage_perc (the name vLLM v1 uses).
        epp_kv_cache_metric="vllm:kv_cache_usage_perc",
        vllm_image=Image("ghcr.io/llm-d/llm-d-cuda", "v0.6.0"),
        # llm-d guides/pd-disaggregation/ms-pd/values.yaml at the v0.6 release.
        routing_sidecar_image=Image("ghcr.io/llm-d/llm-d-routing-sidecar", "v0.7.1"),
        # The simulator renamed vllm:gpu_cache_usage_perc to vllm:kv_cache_usage_perc
        # in v0.7.0; v0.8.1 is the version scheduler v0.7.0's own e2e tests run.
        simulator_image=SimulatorImage(
            "ghcr.io/llm-d/llm-d-inference-sim", "v0.8.1", kv_cache_metric="vllm:kv_cache_usage_perc"
        ),
        epp_plugins_config_file="default-plugins.yaml",
    ),
}

DEFAULT_PROFILE = "v0.6"

# GPU platform pins, independent of the llm-d profile: they follow the GPU
# capacity a phase uses (GPU Operator in 1.5/2a/3, DRA and Cluster Autoscaler in 2b).
GPU_OPERATOR = HelmChart("gpu-operator", "v26.3.3", "https://helm.ngc.nvidia.com/nvidia")
DRA_DRIVER = HelmChart("oci://registry.k8s.io/dra-driver-nvidia/charts/dra-driver-nvidia-gpu", "0.4.0")
CLUSTER_AUTOSCALER = HelmChart("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler")


@dataclass(frozen=True)
class ClusterAutoscalerBuild:
    """The Cluster Autoscaler image for one Kubernetes minor (its minor must match the cluster's)."""

    image: Image
    # Before 1.35 DRA handling is off unless --enable-dynamic-resource-allocation is
    # passed; from 1.35 the flag defaults to true and is locked there.
    needs_dra_flag: bool


_CA_REPOSITORY = "registry.k8s.io/autoscaling/cluster-autoscaler"
CLUSTER_AUTOSCALER_BUILDS: dict[str, ClusterAutoscalerBuild] = {
    "1.34": ClusterAutoscalerBuild(Image(_CA_REPOSITORY, "v1.34.5"), needs_dra_flag=True),
    "1.35": ClusterAutoscalerBuild(Image(_CA_REPOSITORY, "v1.35.2"), needs_dra_flag=False),
    "1.36": ClusterAutoscalerBuild(Image(_CA_REPOSITORY, "v1.36.1"), needs_dra_flag=False),
}


@dataclass(frozen=True)
class OperationsVersions:
    """Day-2 pieces that do not change with the llm-d profile (observability, autoscaling, model cache, LoRA)."""

    # 88.3.0 is the last release shipping prometheus-operator v0.93.0, the
    # version of the PodMonitor/ServiceMonitor CRDs the tests validate against.
    kube_prometheus_stack: HelmChart
    keda: HelmChart
    # The one-off Job that copies a model from Hugging Face into the S3 cache:
    # a stock Python image plus exactly these PyPI packages.
    model_copy_image: Image
    model_copy_packages: tuple[str, ...]
    # Init containers that copy s3:// LoRA adapters to the model-server pods (the AWS CLI v2).
    adapter_fetch_image: Image

    def deployed(
        self, *, observability: bool, autoscaling: bool, model_cache: bool, adapter_fetch: bool
    ) -> dict[str, str]:
        """The entries the ``versions`` stack output gains for the switched-on features."""
        out: dict[str, str] = {}
        if observability:
            out["kubePrometheusStack"] = self.kube_prometheus_stack.version
        if autoscaling:
            out["keda"] = self.keda.version
        if model_cache:
            out["modelCopyImage"] = self.model_copy_image.ref
        if adapter_fetch:
            out["adapterFetchImage"] = self.adapter_fetch_image.ref
        return out


OPERATIONS = OperationsVersions(
    kube_prometheus_stack=HelmChart(
        "kube-prometheus-stack", "88.3.0", "https://prometheus-community.github.io/helm-charts"
    ),
    keda=HelmChart("keda", "2.20.2", "https://kedacore.github.io/charts"),
    model_copy_image=Image("docker.io/library/python", "3.12-slim"),
    model_copy_packages=("huggingface-hub==2.4.0", "boto3==1.44.5"),
    # Tag 2.36.6 of aws/aws-cli; any 2.x from 2.13.39 reads EKS Pod Identity credentials.
    adapter_fetch_image=Image("public.ecr.aws/aws-cli/aws-cli", "2.36.6"),
)

# Pins outside the llm-d profile: GPU capacity (phases 2a, 3) and Dynamo (phase 3).

# Self-managed Karpenter; the chart ships the karpenter.sh / karpenter.k8s.aws CRDs.
KARPENTER = HelmChart("oci://public.ecr.aws/karpenter/karpenter", "1.14.1")


@dataclass(frozen=True)
class AmiRelease:
    """An EKS-optimized AMI release, pinned so a new AMI never drifts (replaces) GPU nodes."""

    alias: str  # EC2NodeClass amiSelectorTerms alias
    min_kubernetes_minor: int
    max_kubernetes_minor: int


# awslabs/amazon-eks-ami release v20260714 (CHANGELOG.md at tag v20260724): AL2023_x86_64_NVIDIA
# built for Kubernetes 1.30-1.36. Karpenter picks the NVIDIA variant for GPU instance types.
KARPENTER_AMI = AmiRelease("al2023@v20260714", 30, 36)

# Exposes vpc.amazonaws.com/efa on EFA instances (p4d, p5, p5e, p5en, p6-b200) for NIXL over RDMA.
EFA_DEVICE_PLUGIN = HelmChart("aws-efa-k8s-device-plugin", "v0.5.30", "https://aws.github.io/eks-charts")

# NVIDIA Dynamo 1.x: the platform chart carries the nvidia.com CRDs (operator subchart crds/).
DYNAMO_PLATFORM = HelmChart("dynamo-platform", "1.0.0", "https://helm.ngc.nvidia.com/nvidia/ai-dynamo")
DYNAMO_VLLM_RUNTIME = Image("nvcr.io/nvidia/ai-dynamo/vllm-runtime", "1.0.0")
