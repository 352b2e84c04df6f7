"""nanokube: Kubernetes, implemented in Python."""

__version__ = "0.1.0"
