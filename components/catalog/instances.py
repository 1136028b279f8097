"""GPU instance types the program knows, as data.

Sources (checked 2026-04 unless noted): the AWS EC2 accelerated-computing
instance pages for GPU count/model/memory, vCPU and memory; the seed guide's
"EKS Auto Mode GPU instance support matrix (2026.04)" for Auto Mode support.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AutoModeSupport(StrEnum):
    SUPPORTED = "supported"
    LIMITED = "limited"  # dry-run passes, offering matching may fail (seed: p5en)
    UNSUPPORTED = "unsupported"  # Auto Mode's managed Karpenter cannot launch it


@dataclass(frozen=True)
class GpuInstanceType:
    name: str
    gpus: int
    gpu_model: str
    gpu_memory_gib: int
    vcpu: int
    memory_gib: int

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class GpuFamily:
    name: str
    auto_mode: AutoModeSupport
    efa: bool
    sizes: tuple[GpuInstanceType, ...]

    @property
    def max_gpus_per_node(self) -> int:
        return max(size.gpus for size in self.sizes)

    @property
    def gpu_memory_gib(self) -> int:
        return self.sizes[0].gpu_memory_gib

    @property
    def gpu_model(self) -> str:
        return self.sizes[0].gpu_model


def _sizes(family: str, model: str, mem: int, rows: list[tuple[str, int, int, int]]) -> tuple[GpuInstanceType, ...]:
    return tuple(GpuInstanceType(f"{family}.{size}", gpus, model, mem, vcpu, ram) for size, gpus, vcpu, ram in rows)


_G_SIZES_24 = [  # (size, GPUs, vCPU, GiB) shared by g5 and g6
    ("xlarge", 1, 4, 16),
    ("2xlarge", 1, 8, 32),
    ("4xlarge", 1, 16, 64),
    ("8xlarge", 1, 32, 128),
    ("16xlarge", 1, 64, 256),
    ("12xlarge", 4, 48, 192),
    ("24xlarge", 4, 96, 384),
    ("48xlarge", 8, 192, 768),
]

FAMILIES: dict[str, GpuFamily] = {
    f.name: f
    for f in (
        GpuFamily("g5", AutoModeSupport.SUPPORTED, False, _sizes("g5", "A10G", 24, _G_SIZES_24)),
        GpuFamily("g6", AutoModeSupport.SUPPORTED, False, _sizes("g6", "L4", 24, _G_SIZES_24)),
        GpuFamily(
            "g6e",
            AutoModeSupport.SUPPORTED,
            False,
            _sizes(
                "g6e",
                "L40S",
                48,
                [
                    ("xlarge", 1, 4, 32),
                    ("2xlarge", 1, 8, 64),
                    ("4xlarge", 1, 16, 128),
                    ("8xlarge", 1, 32, 256),
                    ("16xlarge", 1, 64, 512),
                    ("12xlarge", 4, 48, 384),
                    ("24xlarge", 4, 96, 768),
                    ("48xlarge", 8, 192, 1536),
                ],
            ),
        ),
        GpuFamily("p4d", AutoModeSupport.SUPPORTED, True, _sizes("p4d", "A100", 40, [("24xlarge", 8, 96, 1152)])),
        GpuFamily("p4de", AutoModeSupport.SUPPORTED, True, _sizes("p4de", "A100", 80, [("24xlarge", 8, 96, 1152)])),
        GpuFamily(
            "p5",
            AutoModeSupport.SUPPORTED,
            True,
            _sizes("p5", "H100", 80, [("4xlarge", 1, 16, 256), ("48xlarge", 8, 192, 2048)]),
        ),
        GpuFamily("p5e", AutoModeSupport.LIMITED, True, _sizes("p5e", "H200", 141, [("48xlarge", 8, 192, 2048)])),
        GpuFamily("p5en", AutoModeSupport.LIMITED, True, _sizes("p5en", "H200", 141, [("48xlarge", 8, 192, 2048)])),
        GpuFamily(
            "p6-b200", AutoModeSupport.UNSUPPORTED, True, _sizes("p6-b200", "B200", 179, [("48xlarge", 8, 192, 2048)])
        ),
        # Fractional L4 GPUs: not schedulable as whole nvidia.com/gpu on Auto Mode.
        GpuFamily(
            "g6f",
            AutoModeSupport.UNSUPPORTED,
            False,
            _sizes("g6f", "L4 (fractional)", 3, [("large", 1, 2, 8), ("4xlarge", 1, 16, 64)]),
        ),
    )
}


def family(name: str) -> GpuFamily | None:
    return FAMILIES.get(name)


def instance_type(name: str) -> GpuInstanceType | None:
    fam = FAMILIES.get(name.split(".", 1)[0])
    if fam is None:
        return None
    return next((size for size in fam.sizes if size.name == name), None)
