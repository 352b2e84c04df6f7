"""The Kubernetes release whose API nanokube serves.

The installed kubectl is a dispatcher that execs the kubectl release matching the server's
minor version, so this minor also decides which kubectl talks to us.
"""

KUBE_MAJOR = "1"
KUBE_MINOR = "33"
KUBE_PATCH = "1"
KUBE_VERSION = f"v{KUBE_MAJOR}.{KUBE_MINOR}.{KUBE_PATCH}"
GIT_VERSION = f"{KUBE_VERSION}+nanokube"
# The OpenAPI definitions shipped by kubernetes-validate for this release.
SCHEMA_RELEASE = f"{KUBE_MAJOR}.{KUBE_MINOR}.0"
