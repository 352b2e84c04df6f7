"""Protobuf bodies kubectl 1.33 sends decode to the JSON kubectl 1.31 sends for the same command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanokube.api import errors, protobuf

CASES = json.loads((Path(__file__).parent / "fixtures" / "kubectl_protobuf_bodies.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["command"] for c in CASES])
def test_decodes_like_json(case):
    assert protobuf.decode(bytes.fromhex(case["protobuf_hex"])) == case["json"]


def test_rejects_what_it_cannot_read():
    with pytest.raises(errors.BadRequest):
        protobuf.decode(b"not protobuf")
    with pytest.raises(errors.BadRequest):
        protobuf.decode(protobuf.MAGIC + b"\x0a\xff")


def test_every_kind_kubectl_creates_has_a_message():
    for api_version, kind in [("v1", "Namespace"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
                              ("apps/v1", "Deployment"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
                              ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
                              ("networking.k8s.io/v1", "Ingress"), ("policy/v1", "PodDisruptionBudget"),
                              ("scheduling.k8s.io/v1", "PriorityClass"), ("v1", "ResourceQuota"),
                              ("authentication.k8s.io/v1", "TokenRequest"), ("policy/v1", "Eviction"),
                              ("meta.k8s.io/v1", "DeleteOptions")]:
        assert protobuf.message_for(api_version, kind), (api_version, kind)
