"""The Kubernetes API dockyard serves for each EKS cluster."""
