"""The deployment files start the product: every setting production requires is set in each app
container (secrets from secrets), every long-running service restarts and is probed, the
migrations run first, and the README documents exactly the settings the code reads.

What "required" means is asked of ``load_settings`` itself (tests/deployment.py), so a setting
made required tomorrow is required here too without editing this file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deployment import (
    APP_SERVICES,
    INFRA,
    compose,
    compose_environment,
    containerfile,
    documents,
    image_environment,
    interpolate,
    kubernetes,
    required_settings,
)

SETTINGS_SOURCE = Path("src/motcua/core/settings.py")
# Names whose values are credentials or carry them (URLs with passwords): never a plain value
# in a manifest, never in a ConfigMap.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY\b|_KEY_ID\b|DATABASE_URL|REDIS_URL|SMTP_URL")


@pytest.fixture(scope="module")
def production_env() -> dict[str, str]:
    """What the web container's process sees: the image's ENV, then compose's environment."""
    return {**image_environment(), **compose_environment("web")}


@pytest.fixture(scope="module")
def required(production_env: dict[str, str]) -> set[str]:
    found = required_settings(production_env)
    # The method must find at least what the issue named, or it proves nothing.
    assert found >= {
        "MOTCUA_ENV",
        "MOTCUA_DATABASE_URL",
        "MOTCUA_REDIS_URL",
        "MOTCUA_PLATFORM_DOMAIN",
        "MOTCUA_SECRET_KEY",
        "MOTCUA_OIDC_ISSUER",
        "MOTCUA_OIDC_CLIENT_ID",
        "MOTCUA_OIDC_CLIENT_SECRET",
        "MOTCUA_SMTP_URL",
    }
    return found


# Compose -------------------------------------------------------------------------------------
def test_compose_app_services_have_every_required_setting(required: set[str]) -> None:
    image = image_environment()
    assert image.get("MOTCUA_ENV") == "production"
    for service in APP_SERVICES:
        env = {**image, **compose_environment(service)}
        missing = required - set(env)
        assert not missing, f"compose service {service} lacks {sorted(missing)}"
        assert env["MOTCUA_ENV"] == "production", service
        assert env.get("MOTCUA_DEV_SERVICES", "0") == "0", service


def test_compose_secrets_come_from_the_env_file() -> None:
    raw = compose()["services"]["web"]["environment"]
    for name, value in raw.items():
        if SECRET_NAME.search(name):
            assert "${" in str(value), f"{name} is written in compose.yaml; it belongs in infra/.env"
    # Every variable compose needs from infra/.env is listed in infra/.env.example.
    example = (INFRA / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", example, re.MULTILINE))
    used = set(
        re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", (INFRA / "compose.yaml").read_text(encoding="utf-8"))
    )
    assert used <= listed, f"not in infra/.env.example: {sorted(used - listed)}"


def test_compose_services_restart_are_health_checked_and_migrate_first() -> None:
    services = compose()["services"]
    # One-shot services: what others wait for to have completed.
    one_shots = {
        name
        for service in services.values()
        for name, cond in (service.get("depends_on") or {}).items()
        if isinstance(cond, dict) and cond.get("condition") == "service_completed_successfully"
    }
    assert "migrate" in one_shots
    assert services["migrate"]["command"] == ["motcua", "migrate"]
    for name, service in services.items():
        if name in one_shots:  # retried until done, never restarted after
            assert service.get("restart") == "on-failure", name
            continue
        assert service.get("restart") in ("unless-stopped", "always"), name
        assert "healthcheck" in service, name
    for name in ("web", "worker", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
    # Volumes only for state: the database, Redis, the bucket, the data folder of exports.
    assert set(compose()["volumes"]) <= {"pgdata", "redisdata", "miniodata", "appdata"}


# Kubernetes ----------------------------------------------------------------------------------
def _app_workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        o
        for o in objects
        if o["kind"] in ("Deployment", "Job", "CronJob", "StatefulSet")
        and any(str(c["image"]).startswith("motcua") for c in _pod(o)["containers"])
    ]


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])


def _config_maps(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}


def test_kubernetes_app_containers_have_every_required_setting_from_secrets(required: set[str]) -> None:
    objects = kubernetes()
    maps = _config_maps(objects)
    for data in maps.values():
        leaked = [k for k in data if SECRET_NAME.search(k)]
        assert not leaked, f"secrets in a ConfigMap: {leaked}"
    workloads = _app_workloads(objects)
    names = {w["metadata"]["name"] for w in workloads}
    assert names >= {"motcua-web", "motcua-worker", "motcua-scheduler", "motcua-migrate"}
    for workload in workloads:
        for container in _pod(workload)["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            env: dict[str, str] = {}
            for source in container.get("envFrom", []):
                assert "configMapRef" in source, f"{where}: envFrom only from ConfigMaps (secrets by key)"
                env.update(maps[source["configMapRef"]["name"]])
            for item in container.get("env", []):
                if SECRET_NAME.search(item["name"]):
                    assert "secretKeyRef" in item.get("valueFrom", {}), (
                        f"{where}: {item['name']} must be a secretKeyRef"
                    )
                env[item["name"]] = item.get("value", "<secret>")
            missing = required - set(env) - set(image_environment())
            assert not missing, f"{where} lacks {sorted(missing)}"
            assert env.get("MOTCUA_ENV", image_environment()["MOTCUA_ENV"]) == "production", where


def test_kubernetes_workloads_restart_are_probed_and_bounded() -> None:
    objects = kubernetes()
    for workload in (o for o in objects if o["kind"] in ("Deployment", "StatefulSet")):
        pod = _pod(workload)
        assert pod.get("restartPolicy", "Always") == "Always"
        for container in pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert "livenessProbe" in container, where
            if container.get("ports"):
                assert "readinessProbe" in container, where
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), where
            assert "memory" in resources.get("limits", {}), where
    web = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "motcua-web")
    (container,) = _pod(web)["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # The app's pods keep nothing: only PostgreSQL's and Redis's StatefulSets claim volumes.
    for workload in _app_workloads(objects):
        assert all("emptyDir" in v for v in _pod(workload).get("volumes", [])), workload["metadata"]["name"]
        security = _pod(workload).get("securityContext", {})
        assert security.get("runAsNonRoot") is True and security.get("runAsUser", 0) != 0
    claims = {
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "StatefulSet" and o["spec"].get("volumeClaimTemplates")
    }
    assert claims <= {"postgres", "redis"}
    (job,) = (o for o in objects if o["kind"] == "Job")
    assert _pod(job)["restartPolicy"] == "OnFailure"
    assert _pod(job)["containers"][0]["command"] == ["motcua", "migrate"]
    kinds = {
        (o["kind"], o.get("spec", {}).get("selector", {}).get("matchLabels", {}).get("app")) for o in objects
    }
    assert ("PodDisruptionBudget", "motcua-web") in kinds
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "motcua-web"


def test_ingress_covers_the_bare_domain_subdomains_and_custom_domains() -> None:
    objects = kubernetes()
    domain = _config_maps(objects)["motcua"]["MOTCUA_PLATFORM_DOMAIN"]
    (ingress,) = (o for o in objects if o["kind"] == "Ingress")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts == {domain, f"*.{domain}"}
    (tls,) = ingress["spec"]["tls"]
    assert set(tls["hosts"]) == hosts
    issuers = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ClusterIssuer"}
    (certificate,) = (o for o in objects if o["kind"] == "Certificate")
    assert certificate["spec"]["secretName"] == tls["secretName"]
    assert set(certificate["spec"]["dnsNames"]) == hosts
    # A wildcard can only be issued through DNS-01.
    solvers = issuers[certificate["spec"]["issuerRef"]["name"]]["spec"]["acme"]["solvers"]
    assert all("dns01" in s for s in solvers)
    # Custom domains: an Ingress each, whose certificate cert-manager gets by HTTP-01.
    examples = list((INFRA / "k8s" / "custom-domains").glob("*.yaml"))
    assert examples
    for path in examples:
        (custom,) = documents(path)
        issuer = custom["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        assert all("http01" in s for s in issuers[issuer]["spec"]["acme"]["solvers"])
        (rule,) = custom["spec"]["rules"]
        assert not rule["host"].endswith(domain) and custom["spec"]["tls"][0]["hosts"] == [rule["host"]]
    # nginx: the platform's certificate for the platform's names only; custom domains their own.
    nginx = (INFRA / "nginx.conf").read_text(encoding="utf-8")
    assert "server_name ${PLATFORM_DOMAIN} *.${PLATFORM_DOMAIN};" in nginx
    assert "/etc/nginx/certs/custom/$custom_cert.crt" in nginx
    assert "/.well-known/acme-challenge/" in nginx


def test_the_image_runs_as_a_user_with_a_writable_data_folder() -> None:
    instructions = containerfile()
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    data_dir = image_environment()["MOTCUA_DATA_DIR"]
    runs = " ".join(arguments for instruction, arguments in instructions if instruction == "RUN")
    assert re.search(rf"install -d -o {re.escape(users[-1])}\b.* {re.escape(data_dir)}\b", runs)


# README --------------------------------------------------------------------------------------
def _settings_read(project_root: Path) -> set[str]:
    source = (project_root / SETTINGS_SOURCE).read_text(encoding="utf-8")
    return {n for n in re.findall(r"MOTCUA_[A-Z0-9_]+", source) if not n.endswith("_")}


def _readme_table(project_root: Path) -> set[str]:
    readme = (project_root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Production configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`(MOTCUA_[A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_readme_table_lists_exactly_the_settings_the_code_reads(project_root: Path) -> None:
    read, documented = _settings_read(project_root), _readme_table(project_root)
    assert not read - documented, (
        f"read by settings.py, missing from the README table: {sorted(read - documented)}"
    )
    assert not documented - read, f"in the README table, read by nothing: {sorted(documented - read)}"
    # And every setting the deployment files set is one of them.
    used = set(compose_environment("web")) | {
        name
        for o in kubernetes()
        if o["kind"] == "ConfigMap"
        for name in o.get("data", {})
        if name.startswith("MOTCUA_")
    }
    assert not used - documented, f"set by infra/, not documented: {sorted(used - documented)}"


def test_interpolation_refuses_a_variable_without_a_value() -> None:
    with pytest.raises(KeyError, match="NOPE"):
        interpolate("${NOPE:?set NOPE}", {})
    assert interpolate("a${X:-b}c$$", {}) == "abc$"
