"""kube-controller-manager: the Kubernetes controllers of every EKS cluster, over KubeObjects."""
