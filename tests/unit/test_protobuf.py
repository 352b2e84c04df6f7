"""Protobuf request bodies decode to the JSON the same object marshals to.

The fixtures are real kubectl requests: the protobuf body kubectl 1.32/1.33 sent for a
typed command and the JSON body kubectl 1.31 sent for the same command. The rest builds
bodies by hand to reach what kubectl never sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nanokube.api import errors, protobuf

CASES = json.loads((Path(__file__).parent / "fixtures" / "kubectl_protobuf_bodies.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["command"] for c in CASES])
def test_decodes_like_the_json_kubectl_sent(case: dict[str, Any]) -> None:
    got = protobuf.decode(bytes.fromhex(case["protobuf_hex"]))
    # same object, and the same key order as Go writes it
    assert json.dumps(got) == json.dumps(json.loads(case["json"]))


# --- a minimal protobuf writer for hand-made bodies ---------------------------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative numbers go out as ten bytes, as Go writes int32/int64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def num(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def msg(field: int, *parts: bytes | str) -> bytes:
    payload = b"".join(p.encode() if isinstance(p, str) else p for p in parts)
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def entry(field: int, key: str, value: bytes | str | None) -> bytes:
    return msg(field, msg(1, key), *([] if value is None else [msg(2, value)]))


def body(api_version: str, kind: str, *parts: bytes) -> bytes:
    return protobuf.MAGIC + msg(1, msg(1, api_version), msg(2, kind)) + msg(2, *parts)


def meta(name: str, namespace: str = "") -> bytes:
    return msg(1, msg(1, name), *([msg(3, namespace)] if namespace else []))


# --- hand-made bodies ---------------------------------------------------------------------

def test_eviction_keeps_a_zero_grace_period_that_was_sent() -> None:
    obj = protobuf.decode(body("policy/v1", "Eviction", meta("p1", "default"), msg(2, num(1, 0), msg(5, "All"))))
    assert obj == {"kind": "Eviction", "apiVersion": "policy/v1",
                   "metadata": {"name": "p1", "namespace": "default", "creationTimestamp": None},
                   "deleteOptions": {"gracePeriodSeconds": 0, "dryRun": ["All"]}}


@pytest.mark.parametrize("api_version", ["v1", "apps/v1", "meta.k8s.io/v1"])
def test_delete_options_under_any_group_version(api_version: str) -> None:
    obj = protobuf.decode(body(api_version, "DeleteOptions", msg(4, "Foreground"), num(3, 0)))
    assert obj == {"kind": "DeleteOptions", "apiVersion": api_version, "propagationPolicy": "Foreground",
                   "orphanDependents": False}


def test_times_are_rfc3339_and_microtimes_truncate_to_microseconds() -> None:
    lease = protobuf.decode(body("coordination.k8s.io/v1", "Lease",
                                 msg(1, msg(1, "l"), msg(8, num(1, 1700000000), num(2, 999_999_999))),
                                 msg(2, msg(1, "me"), msg(3, num(1, 0)), msg(4, num(1, 1700000000), num(2, 1999)),
                                     msg(6, ""))))
    assert lease["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"  # Time drops the nanoseconds
    assert lease["spec"] == {"holderIdentity": "me", "acquireTime": "1970-01-01T00:00:00.000000Z",
                             "renewTime": "2023-11-14T22:13:20.000001Z", "strategy": ""}


def test_int_or_string_quantities_and_bytes() -> None:
    svc = protobuf.decode(body("v1", "Service", meta("s"),
                               msg(2, msg(1, msg(1, "http"), num(3, 80), msg(4, num(1, 1), msg(3, "web"))),
                                   msg(1, num(3, 81)))))
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "web"},
                                    {"port": 81, "targetPort": 0}]  # a zero IntOrString is still written
    quota = protobuf.decode(body("v1", "ResourceQuota", meta("q"),
                                 msg(2, entry(1, "cpu", msg(1, "500m")), entry(1, "pods", None))))
    assert quota["spec"] == {"hard": {"cpu": "500m", "pods": "0"}}
    secret = protobuf.decode(body("v1", "Secret", meta("s"),
                                  entry(2, "a", b"\x00\xff"), entry(2, "empty", None), msg(3, "Opaque")))
    assert secret["data"] == {"a": "AP8=", "empty": ""} and secret["type"] == "Opaque"


def test_a_malformed_quantity_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest):
        protobuf.decode(body("v1", "ResourceQuota", meta("q"), msg(2, entry(1, "cpu", msg(1, "lots")))))


def test_inline_structs_repeated_numbers_and_negative_ints() -> None:
    pod = protobuf.decode(body(
        "v1", "Pod", meta("p"),
        msg(2,
            msg(1, msg(1, "v"), msg(2, msg(2, ""))),  # Volume{name, VolumeSource{emptyDir: {}}}
            msg(2, msg(1, "c")),
            msg(14, num(4, 5), num(4, -3), msg(4, _varint(7) + _varint(8))),  # unpacked and packed
            num(5, -1))))
    assert pod["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]
    assert pod["spec"]["containers"] == [{"name": "c", "resources": {}}]
    assert pod["spec"]["securityContext"] == {"supplementalGroups": [5, -3, 7, 8]}
    assert pod["spec"]["activeDeadlineSeconds"] == -1
    assert pod["status"] == {}


def test_named_slices_nil_slices_and_required_fields() -> None:
    sar = protobuf.decode(body("authorization.k8s.io/v1", "SubjectAccessReview", meta("x"),
                               msg(2, msg(3, "u"), entry(5, "scopes", msg(1, "a") + msg(1, "b")))))
    assert sar["spec"] == {"user": "u", "extra": {"scopes": ["a", "b"]}}
    assert sar["status"] == {"allowed": False}
    role = protobuf.decode(body("rbac.authorization.k8s.io/v1", "Role", meta("r"), msg(2, msg(3, "pods"))))
    assert role["rules"] == [{"verbs": None, "resources": ["pods"]}]  # verbs has no omitempty


def test_negative_int32_and_false_pointer() -> None:
    pc = protobuf.decode(body("scheduling.k8s.io/v1", "PriorityClass", meta("pc"), num(2, -5), num(3, 0)))
    assert pc["value"] == -5 and "globalDefault" not in pc  # a plain bool false is omitted
    sa = protobuf.decode(body("v1", "ServiceAccount", meta("sa"), num(4, 0)))
    assert sa["automountServiceAccountToken"] is False  # a pointer that was sent is kept


def test_repeated_message_fields_merge_and_unknown_fields_are_skipped() -> None:
    obj = protobuf.decode(body("v1", "ConfigMap", msg(1, msg(1, "cm")), msg(1, msg(3, "ns")),
                               num(999, 7), entry(2, "a", "b")))
    assert obj == {"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "cm", "namespace": "ns", "creationTimestamp": None}, "data": {"a": "b"}}


@pytest.mark.parametrize("ns, text", [
    (0, "0s"), (1, "1ns"), (1100, "1.1µs"), (2_200_000, "2.2ms"), (1_500_000_000, "1.5s"),
    (90 * 10**9, "1m30s"), (3600 * 10**9, "1h0m0s"), (4530_918_273_645, "1h15m30.918273645s"),
    (-1_000_000_000, "-1s"),
])
def test_durations_print_as_go_does(ns: int, text: str) -> None:
    assert protobuf._go_duration(ns) == text


# --- what cannot be decoded ----------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"not protobuf", b"{}", protobuf.MAGIC + b"\x0a\xff", protobuf.MAGIC + b"\x0a\x02\x0a",
    body("v1", "ConfigMap", num(1, 5)),  # a message sent as a number
    body("v1", "ConfigMap", msg(1, num(1, 5))),  # a string sent as a number
    protobuf.MAGIC + msg(2, meta("x")),  # no kind
])
def test_malformed_bodies_are_bad_requests(raw: bytes) -> None:
    with pytest.raises(errors.BadRequest):
        protobuf.decode(raw)


@pytest.mark.parametrize("api_version, kind", [("v1", "Frobnicator"), ("apps/v1beta1", "Deployment"),
                                               ("example.com/v1", "Widget")])
def test_unknown_kinds_are_refused_not_guessed(api_version: str, kind: str) -> None:
    with pytest.raises(errors.UnsupportedMediaType, match=kind):
        protobuf.decode(body(api_version, kind, meta("x")))


@pytest.mark.parametrize("api_version, kind", [
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
    ("v1", "ResourceQuota"), ("v1", "Pod"), ("apps/v1", "Deployment"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("networking.k8s.io/v1", "Ingress"), ("policy/v1", "PodDisruptionBudget"), ("policy/v1", "Eviction"),
    ("scheduling.k8s.io/v1", "PriorityClass"), ("authentication.k8s.io/v1", "TokenRequest"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"), ("autoscaling/v1", "Scale"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("coordination.k8s.io/v1", "Lease"),
    ("discovery.k8s.io/v1", "EndpointSlice"), ("storage.k8s.io/v1", "StorageClass"), ("events.k8s.io/v1", "Event"),
    ("meta.k8s.io/v1", "DeleteOptions"), ("apps/v1", "DeleteOptions"),
])
def test_every_kind_typed_clients_send_has_a_message(api_version: str, kind: str) -> None:
    assert protobuf.message_for(api_version, kind)


def test_every_referenced_message_is_in_the_table() -> None:
    from nanokube.api import protobuf_fields

    for name, fields in protobuf_fields.MESSAGES.items():
        for _, json_name, _, typ, value_type, flags in fields:
            for t in (typ, value_type):
                assert "." not in t or t in protobuf_fields.MESSAGES, (name, json_name, t)
            assert json_name or "i" in flags, name


# --- properties ----------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@given(labels=st.dictionaries(_text, _text, max_size=5), data=st.dictionaries(_text, st.binary(max_size=20), max_size=5),
       generation=st.integers(-(2**63), 2**63 - 1), immutable=st.none() | st.booleans())
def test_secrets_decode_whatever_they_carry(labels: dict[str, str], data: dict[str, bytes], generation: int,
                                            immutable: bool | None) -> None:
    parts = [msg(1, msg(1, "s"), num(7, generation), *(entry(11, k, v) for k, v in labels.items())),
             *(entry(2, k, v) for k, v in data.items())]
    if immutable is not None:
        parts.append(num(5, int(immutable)))
    obj = protobuf.decode(body("v1", "Secret", *parts))
    import base64

    expected_meta: dict[str, Any] = {"name": "s"}
    if generation:
        expected_meta["generation"] = generation
    expected_meta["creationTimestamp"] = None
    if labels:
        expected_meta["labels"] = labels
    assert obj["metadata"] == expected_meta
    assert obj.get("data", {}) == {k: base64.b64encode(v).decode() for k, v in data.items()}
    assert obj.get("immutable") == immutable


@given(st.integers(-(2**31), 2**31 - 1), st.permutations(range(3)))
def test_field_order_on_the_wire_does_not_matter(replicas: int, order: list[int]) -> None:
    parts = [meta("d"), msg(2, num(1, replicas), msg(2, entry(1, "a", "b"))), msg(3, "")]
    obj = protobuf.decode(body("apps/v1", "Deployment", *(parts[i] for i in order)))
    assert list(obj) == ["kind", "apiVersion", "metadata", "spec", "status"]
    assert obj["spec"] == {"replicas": replicas, "selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"creationTimestamp": None}, "spec": {"containers": None}},
                           "strategy": {}}
