"""Selectors parse, match and render as upstream's do."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from nanokube.api import errors, selectors
from nanokube.api.registry import Registry

REG = Registry()
PODS = REG.get("", "v1", "pods")
CMS = REG.get("", "v1", "configmaps")


@pytest.mark.parametrize("text,labels,expected", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web"}, True),
    ("app!=web", {"app": "db"}, True),
    ("app!=web", {}, True),
    ("app in (web, db)", {"app": "db"}, True),
    ("app notin (web,db)", {"app": "db"}, False),
    ("app", {"app": ""}, True),
    ("!app", {"app": "x"}, False),
    ("app=web,tier", {"app": "web"}, False),
    ("replicas>2", {"replicas": "3"}, True),
    ("replicas<2", {"replicas": "3"}, False),
    ("", {"x": "y"}, True),
    ("example.com/role=db", {"example.com/role": "db"}, True),
])
def test_label_selector_matching(text, labels, expected):
    assert selectors.parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["app=", "a in ()", "=x", "app=web,", "bad key!=x", "a in (x", "a=b c"])
def test_bad_label_selectors_are_bad_requests(text):
    if text == "app=":
        assert selectors.parse_label_selector(text).matches({"app": ""})
        return
    with pytest.raises(errors.BadRequest):
        selectors.parse_label_selector(text)


def test_canonical_rendering_sorts_by_key():
    sel = selectors.parse_label_selector("b in (y,x),a=1,!c")
    assert str(sel) == "a=1,b in (x,y),!c"


def test_label_selector_dict_semantics():
    assert not selectors.label_selector_from_dict(None).matches({})
    assert selectors.label_selector_from_dict({}).matches({"any": "thing"})
    sel = selectors.label_selector_from_dict({"matchLabels": {"app": "x"},
                                              "matchExpressions": [{"key": "t", "operator": "In", "values": ["a"]}]})
    assert sel.matches({"app": "x", "t": "a"}) and not sel.matches({"app": "x"})
    assert str(sel) == "app=x,t in (a)"


def test_field_selectors():
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    sel = selectors.parse_field_selector("spec.nodeName=n1,status.phase!=Failed")
    selectors.check_field_selector(PODS, sel)
    assert sel.matches(selectors.field_set(PODS, pod))
    with pytest.raises(errors.BadRequest, match=r"field label not supported: spec\.nodeName"):
        selectors.check_field_selector(CMS, selectors.parse_field_selector("spec.nodeName=x"))
    esc = selectors.parse_field_selector(r"metadata.name=a\,b")
    assert esc.matches({"metadata.name": "a,b"})


names = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
values = st.from_regex(r"[a-z0-9]{1,4}", fullmatch=True)
requirement = st.one_of(
    st.tuples(names, st.sampled_from(["=", "!="]), values).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
    st.tuples(names, st.sampled_from(["in", "notin"]), st.lists(values, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]} {t[1]} ({','.join(t[2])})"),
    names, names.map(lambda n: "!" + n),
)


@given(st.lists(requirement, min_size=1, max_size=4), st.dictionaries(names, values, max_size=4))
def test_render_then_parse_selects_the_same(reqs, labels):
    sel = selectors.parse_label_selector(",".join(reqs))
    again = selectors.parse_label_selector(str(sel))
    assert sel.matches(labels) == again.matches(labels)
    # the model: every term holds
    def holds(term: str) -> bool:
        return selectors.parse_label_selector(term).matches(labels)
    assert sel.matches(labels) == all(holds(t) for t in reqs)
