"""Amazon EKS (``eks``, rest-json): clusters with their own CA and endpoint port, node groups, Fargate
profiles, updates, access entries and policies, tags."""
