"""The checks of the Kubernetes manifests: the chart and the overlays agree with each other and with the
answers (consistency, helm), Argo CD's Applications, the scanners (checkov, kube-score), and the overlays
applied to real API servers (server)."""
