from nanokube.api.nodematch import (
    node_selector_terms_match, required_affinity_matches, requirement_matches, tolerates, untolerated_taints,
)

NODE = {"metadata": {"name": "n1", "labels": {"zone": "a", "cpu": "8"}},
        "spec": {"taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"},
                            {"key": "spot", "effect": "PreferNoSchedule"}]}}


def test_requirement_operators():
    labels = {"zone": "a", "cpu": "8"}
    assert requirement_matches({"key": "zone", "operator": "In", "values": ["a", "b"]}, labels)
    assert not requirement_matches({"key": "zone", "operator": "NotIn", "values": ["a"]}, labels)
    assert requirement_matches({"key": "disk", "operator": "NotIn", "values": ["ssd"]}, labels)
    assert requirement_matches({"key": "zone", "operator": "Exists"}, labels)
    assert requirement_matches({"key": "disk", "operator": "DoesNotExist"}, labels)
    assert requirement_matches({"key": "cpu", "operator": "Gt", "values": ["4"]}, labels)
    assert not requirement_matches({"key": "cpu", "operator": "Lt", "values": ["4"]}, labels)
    assert not requirement_matches({"key": "zone", "operator": "Gt", "values": ["4"]}, labels)


def test_terms_are_ored_and_empty_term_matches_nothing():
    assert not node_selector_terms_match({"nodeSelectorTerms": [{}]}, NODE)
    assert node_selector_terms_match({"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}, NODE)
    assert node_selector_terms_match(None, NODE)


def test_node_selector_and_affinity_both_apply():
    pod = {"spec": {"nodeSelector": {"zone": "a"}, "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "cpu", "operator": "In", "values": ["4"]}]}]}}}}}
    assert not required_affinity_matches(pod, NODE)
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]["values"] = ["8"]
    assert required_affinity_matches(pod, NODE)


def test_tolerations():
    taint = {"key": "gpu", "value": "yes", "effect": "NoSchedule"}
    assert tolerates({"operator": "Exists"}, taint)
    assert tolerates({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert not tolerates({"key": "gpu", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert tolerates({"key": "gpu", "value": "yes"}, taint)
    assert not tolerates({"key": "gpu", "value": "no"}, taint)
    assert [t["key"] for t in untolerated_taints(NODE, [])] == ["gpu"]
    assert untolerated_taints(NODE, [{"key": "gpu", "operator": "Exists"}]) == []
