"""The Kubernetes API objects, served for EKS clusters."""
