from nanokube.api.strategy import pod_qos_class


def c(requests=None, limits=None):
    return {"name": "c", "resources": {k: v for k, v in (("requests", requests), ("limits", limits)) if v}}


def test_no_resources_is_best_effort():
    assert pod_qos_class({"containers": [c()]}) == "BestEffort"
    assert pod_qos_class({"containers": [c(requests={"nvidia.com/gpu": "1"})]}) == "BestEffort"


def test_equal_cpu_and_memory_limits_everywhere_is_guaranteed():
    full = {"cpu": "500m", "memory": "1Gi"}
    assert pod_qos_class({"containers": [c(full, full), c(full, full)]}) == "Guaranteed"
    assert pod_qos_class({"containers": [c({"cpu": "0.5", "memory": "1024Mi"}, full)]}) == "Guaranteed"


def test_anything_else_is_burstable():
    full = {"cpu": "500m", "memory": "1Gi"}
    assert pod_qos_class({"containers": [c(full, full), c()]}) == "Burstable"
    assert pod_qos_class({"containers": [c({"cpu": "100m"}, full)]}) == "Burstable"
    assert pod_qos_class({"containers": [c(limits={"cpu": "1"})]}) == "Burstable"
    assert pod_qos_class({"initContainers": [c(requests={"memory": "1Mi"})], "containers": [c(full, full)]}) == "Burstable"
