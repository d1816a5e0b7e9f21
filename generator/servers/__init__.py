"""The servers checks start and share: local Kubernetes control planes (etcd and kube-apiserver) and the
OpenTelemetry collector. It imports runtime and tools."""
