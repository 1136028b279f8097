"""llmd-eks policy pack: ``pulumi preview --policy-pack policy``.

Pulumi runs this file with the pack's directory on ``sys.path``; the rules
live in ``llmd_policies.py`` so that tests can import them without starting
the pack's gRPC server.
"""

from llmd_policies import ENFORCEMENT, POLICIES
from pulumi_policy import PolicyPack

PolicyPack(name="llmd-eks", enforcement_level=ENFORCEMENT, policies=POLICIES)
