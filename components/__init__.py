"""llmd-eks: llm-d on Amazon EKS Auto Mode, as a Pulumi program.

Layers (see README): ``config`` (validated stack configuration) -> ``plan``
(pure functions: names, specs, Helm values) -> thin ComponentResources
(``cluster``, ``gpu_nodepool``, ``gateway``, ``llmd``) -> ``__main__.py``.
"""
