"""Programs that run inside the cluster (mounted into Jobs), not in the Pulumi program."""
