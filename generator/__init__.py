"""gosvc: generate and keep Go microservices for Kubernetes from one Copier template."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gosvc")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
