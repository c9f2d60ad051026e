"""docker-compose.yml for users, checked without a Docker engine: services, pinned images,
environment wiring, healthchecks; `docker compose config` too where the compose plugin exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from epaper import deployments

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {"MINIO_ROOT_PASSWORD": "minio-secret", "POSTGRES_PASSWORD": "pg-secret"}
VARIABLE = re.compile(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")


def interpolate(value, env: dict[str, str]):
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$, over a parsed document."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if env.get(name):
            return env[name]
        if operator == ":?":
            raise KeyError(f"{name}: {argument}")
        return argument if operator == ":-" else ""

    return VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(raw) -> dict:
    return interpolate(raw, SECRETS)["services"]


def test_services_and_pinned_images(services):
    assert set(services) == {
        "minio",
        "minio-init",
        "postgres",
        "prefect-server",
        "deploy",
        "worker",
        "web",
    }
    for name, service in services.items():
        image = service["image"]
        assert re.search(r":[^:/]*\d[^:/]*$", image) and not image.endswith(":latest"), (
            name,
            image,
        )
    # The server runs the Prefect version the project pins; the project image builds FROM a
    # pinned Python.
    assert services["prefect-server"]["image"].startswith(
        f"prefecthq/prefect:{version('prefect')}-python"
    )
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", base), base
    assert {services[name]["build"] for name in ("deploy", "worker", "web")} == {"."}
    assert services["deploy"]["image"] == services["worker"]["image"] == services["web"]["image"]


def test_the_worker_scales(services):
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker, (
        "--scale worker=N needs neither"
    )
    command = worker["command"]
    assert command[:3] == ["prefect", "worker", "start"]
    assert command[command.index("--pool") + 1] == deployments.WORK_POOL
    assert command[command.index("--type") + 1] == "process"
    assert worker["depends_on"] == {
        "prefect-server": {"condition": "service_healthy"},
        "minio-init": {"condition": "service_completed_successfully"},
        "deploy": {"condition": "service_completed_successfully"},
    }


def test_deploy_sets_up_prefect_then_deploys_every_paper(services):
    command = " ".join(services["deploy"]["command"])
    assert re.search(r"epaper setup-prefect .*&& prefect deploy --all --no-prompt", command), (
        command
    )
    assert services["deploy"]["depends_on"] == {"prefect-server": {"condition": "service_healthy"}}


def test_environment_wiring(services):
    minio, postgres, server = services["minio"], services["postgres"], services["prefect-server"]
    for name in ("deploy", "worker", "web"):
        env = services[name]["environment"]
        host, port = env["EPAPER_S3_ENDPOINT"].split(":")
        assert (
            host == "minio"
            and f":{port}" in " ".join(minio["ports"])
            and env["EPAPER_S3_SECURE"] == "0"
        )
        assert (env["EPAPER_S3_ACCESS_KEY"], env["EPAPER_S3_SECRET_KEY"]) == (
            minio["environment"]["MINIO_ROOT_USER"],
            minio["environment"]["MINIO_ROOT_PASSWORD"],
        )
        assert env["EPAPER_S3_BUCKET"] == services["minio-init"]["environment"]["EPAPER_S3_BUCKET"]
        catalog = urlsplit(env["EPAPER_CATALOG_URL"])
        assert catalog.scheme == "postgresql+psycopg" and catalog.hostname == "postgres"
        assert (catalog.username, catalog.password) == (
            postgres["environment"]["POSTGRES_USER"],
            postgres["environment"]["POSTGRES_PASSWORD"],
        )
        init_sql = (ROOT / "docker" / "postgres-init.sql").read_text()
        assert re.search(
            rf"CREATE DATABASE {catalog.path.lstrip('/')} OWNER {catalog.username};", init_sql
        )
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
        assert env["EPAPER_HOME"] == "/data"
    database = urlsplit(server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"])
    assert (database.scheme, database.hostname, database.path) == (
        "postgresql+asyncpg",
        "postgres",
        "/" + postgres["environment"]["POSTGRES_DB"],
    )
    assert database.password == postgres["environment"]["POSTGRES_PASSWORD"]
    assert server["ports"] == ["127.0.0.1:4200:4200"] and "--host" in server["command"]
    # Every published port is on 127.0.0.1 only.
    assert all(
        port.startswith("127.0.0.1:") for s in services.values() for port in s.get("ports", [])
    )


def test_the_reading_room_serves_the_archive_read_only(services):
    web = services["web"]
    command = web["command"]
    assert command[:2] == ["epaper", "serve"]
    port = command[command.index("--port") + 1]
    # bound to every address inside its container, published on this machine's 127.0.0.1 only
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert web["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"localhost:{port}/" in " ".join(web["healthcheck"]["test"])
    assert "EPAPER_WEB_TOKEN" in web["environment"]
    assert web["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "minio-init": {"condition": "service_completed_successfully"},
    }


def test_the_bucket_is_created_with_versioning(services):
    script = services["minio-init"]["command"][0]
    assert 'mc mb --ignore-existing "local/$EPAPER_S3_BUCKET"' in script
    assert 'mc version enable "local/$EPAPER_S3_BUCKET"' in script
    assert services["minio-init"]["depends_on"] == {"minio": {"condition": "service_healthy"}}


def test_healthchecks(services):
    for name in ("minio", "postgres", "prefect-server", "worker", "web"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["retries"] >= 3, name
    assert "/api/health" in " ".join(services["prefect-server"]["healthcheck"]["test"])
    assert "--with-healthcheck" in services["worker"]["command"]  # the worker serves :8080/health
    assert "8080/health" in " ".join(services["worker"]["healthcheck"]["test"])


def test_secrets_are_required_and_every_variable_is_documented(raw):
    for secret in SECRETS:
        with pytest.raises(KeyError, match=secret):
            interpolate(raw, {name: value for name, value in SECRETS.items() if name != secret})
    documented = (ROOT / "docs" / "prefect.md").read_text(encoding="utf-8")
    for name in {
        match.group(1) for match in VARIABLE.finditer(COMPOSE.read_text(encoding="utf-8"))
    }:
        assert f"`{name}`" in documented, f"{name} is not in docs/prefect.md"


def compose_plugin() -> bool:
    return (
        bool(shutil.which("docker"))
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    )


@pytest.mark.skipif(not compose_plugin(), reason="the docker compose plugin is not installed")
def test_docker_compose_config_accepts_it():
    run = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", **SECRETS},
    )
    assert run.returncode == 0, run.stderr
    missing = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert missing.returncode != 0 and "MINIO_ROOT_PASSWORD" in missing.stderr + missing.stdout
