"""The deployment files parse, and every long-running service restarts and is health-checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def test_kubernetes_manifests_parse_and_every_container_is_probed(project_root: Path) -> None:
    documents = _documents(project_root / "infra" / "k8s" / "motcua.yaml")
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} >= {"motcua-web", "motcua-worker"}
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod.get("restartPolicy", "Always") == "Always"
        for container in pod["containers"]:
            assert "livenessProbe" in container, deployment["metadata"]["name"]
            names = {e["name"] for e in container.get("env", [])}
            assert {"MOTCUA_DATABASE_URL", "MOTCUA_REDIS_URL", "MOTCUA_SECRET_KEY"} <= names


def test_compose_services_restart_and_are_health_checked(project_root: Path) -> None:
    (compose,) = _documents(project_root / "infra" / "compose.yaml")
    for name, service in compose["services"].items():
        if name == "migrate":  # runs once, before the others
            assert service.get("restart") == "on-failure"
            continue
        assert service.get("restart") == "unless-stopped", name
        assert "healthcheck" in service, name
