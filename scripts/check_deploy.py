"""Check the deployment files without a Docker engine: docker-compose.yml as Compose itself
resolves it (`docker compose config`, or the standalone `docker-compose config`), Dockerfile,
Dockerfile.frontend and the nginx template, against what the project promises (README,
"Docker").

    python scripts/check_deploy.py             # exit 0: fine; 1: a check failed; 3: no Compose

It needs a Compose (the `docker compose` plugin or Debian's `docker-compose`), not an engine.
With the standalone one, whose `config` prints YAML only, it reads the YAML with the Python that
runs `docker-compose` (it has PyYAML) when this one has no `yaml` module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NO_COMPOSE = 3

API_COMMAND = ["dupfinder", "serve", "--host", "0.0.0.0", "--port", "8000"]
MIGRATE_COMMAND = ["dupfinder", "migrate"]
WORKER_QUEUES = {"worker": "ingest,cpu,grouping", "worker-model": "model"}
PYTHON_SERVICES = ("migrate", "app", "worker", "worker-model")
BLOB_SERVICES = ("app", "worker", "worker-model")

problems: list[str] = []


def check(ok: object, what: str) -> None:
    if not ok:
        problems.append(what)


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def load_yaml(text: str, compose: list[str]) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        # Debian's docker-compose is a Python program: its interpreter has PyYAML.
        first = Path(compose[0]).read_text(errors="replace").splitlines()[0]
        interpreter = first[2:].strip().split()[0] if first.startswith("#!") else ""
        if not interpreter or not Path(interpreter).exists():
            sys.exit("check_deploy: no PyYAML to read `docker-compose config`'s output")
        convert = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"
        out = subprocess.run(
            [interpreter, "-c", convert], input=text, capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout)
    return yaml.safe_load(text)


def resolved_config(compose: list[str]) -> Any:
    # Compose reads .env next to the file; an empty environment keeps a developer's .env and
    # shell settings out, so the defaults written in the file are what gets checked.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    is_plugin = compose[-1] == "compose"
    args = [*compose, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml")]
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp, "empty.env")
        empty.touch()
        args += ["--env-file", str(empty)]
        args += ["config", "--format", "json"] if is_plugin else ["config"]
        run = subprocess.run(args, capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    if run.returncode != 0:
        sys.exit(f"check_deploy: `{' '.join(args[len(compose) :])}` failed:\n{run.stderr}")
    return json.loads(run.stdout) if is_plugin else load_yaml(run.stdout, compose)


def as_list(command: Any) -> list[str]:
    if isinstance(command, str):
        return command.split()
    return [str(c) for c in command or []]


def depends(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def health_test(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test") or []
    return " ".join(as_list(test)) if not isinstance(test, str) else test


def published_ports(service: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            out.add((str(port.get("published", "")), str(port.get("target", ""))))
        else:
            *_, published, target = str(port).split(":")
            out.add((published, target))
    return out


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """target -> named volume."""
    out = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type", "volume") == "volume":
                out[volume["target"]] = volume.get("source", "")
        else:
            source, target, *_ = str(volume).split(":")
            out[target] = source
    return out


def check_compose(config: dict[str, Any]) -> None:
    services: dict[str, dict[str, Any]] = config.get("services") or {}
    wanted = {"db", "redis", "migrate", "app", "worker", "worker-model", "frontend"}
    check(
        wanted <= services.keys(), f"compose: services missing: {sorted(wanted - services.keys())}"
    )
    if not wanted <= services.keys():
        return
    db, redis, migrate, app = (services[n] for n in ("db", "redis", "migrate", "app"))
    frontend = services["frontend"]

    check(str(db.get("image", "")).startswith("pgvector/pgvector:"), "db: not a pgvector image")
    check("pg_isready" in health_test(db), "db: healthcheck is not pg_isready")
    check(
        any(v in (config.get("volumes") or {}) for v in mounts(db).values()),
        "db: data not on a named volume",
    )
    check(str(redis.get("image", "")).startswith("redis:7"), "redis: not a redis:7 image")
    check("redis-cli" in health_test(redis) and "ping" in health_test(redis), "redis: healthcheck")

    check(as_list(migrate.get("command")) == MIGRATE_COMMAND, "migrate: command")
    check(depends(migrate).get("db") == "service_healthy", "migrate: must wait for db healthy")
    check(str(migrate.get("restart", "no")) == "no", "migrate: must not restart (one-shot)")

    check(as_list(app.get("command")) == API_COMMAND, f"app: command is not {API_COMMAND}")
    check(
        depends(app).get("migrate") == "service_completed_successfully",
        "app: must wait for migrate to complete successfully",
    )
    check(depends(app).get("redis") == "service_healthy", "app: must wait for redis healthy")
    check("/health" in health_test(app), "app: healthcheck does not call /health")
    check(any(t == "8000" for _, t in published_ports(app)), "app: port 8000 not published")

    for name, queues in WORKER_QUEUES.items():
        worker = services[name]
        command = as_list(worker.get("command"))
        check(
            command[:4] == ["dupfinder", "worker", "--queues", queues]
            and len(command) == 6
            and command[4] == "--concurrency"
            and command[5].isdigit(),
            f"{name}: command is not `dupfinder worker --queues {queues} --concurrency N`",
        )
        check(
            depends(worker).get("migrate") == "service_completed_successfully",
            f"{name}: must wait for migrate",
        )
        check(depends(worker).get("redis") == "service_healthy", f"{name}: must wait for redis")
        check("inspect ping" in health_test(worker), f"{name}: healthcheck is not a Celery ping")
        # `docker compose up --scale worker=3` needs neither a fixed name nor a host port.
        check("container_name" not in worker, f"{name}: container_name prevents scaling")
        check(not worker.get("ports"), f"{name}: published ports prevent scaling")

    check(any(t == "3000" for _, t in published_ports(frontend)), "frontend: port 3000")
    check(
        str((frontend.get("build") or {}).get("dockerfile", "")).endswith("Dockerfile.frontend"),
        "frontend: not built from Dockerfile.frontend",
    )
    check(depends(frontend).get("app") == "service_healthy", "frontend: must wait for app")

    blob_volumes = set()
    for name in PYTHON_SERVICES:
        env = services[name].get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
        check(
            str(env.get("DATABASE_URL", "")).startswith("postgresql+psycopg://")
            and "@db:5432/" in str(env.get("DATABASE_URL", "")),
            f"{name}: DATABASE_URL is not the db service",
        )
        check(env.get("CELERY_BROKER_URL") == "redis://redis:6379/0", f"{name}: broker URL")
        check(env.get("CELERY_BACKEND_URL") == "redis://redis:6379/1", f"{name}: backend URL")
        check(env.get("ENVIRONMENT") == "production", f"{name}: ENVIRONMENT is not production")
        check(env.get("DUPFINDER_FRONTEND_DIR") == "", f"{name}: DUPFINDER_FRONTEND_DIR not empty")
        check("DUPFINDER_SECRET_KEY" in env, f"{name}: DUPFINDER_SECRET_KEY not passed")
        storage = str(env.get("DUPFINDER_STORAGE_URL", ""))
        check(storage.startswith(("file:///", "s3://")), f"{name}: DUPFINDER_STORAGE_URL")
        if name in BLOB_SERVICES and storage.startswith("file://"):
            path = storage.removeprefix("file://")
            volume = mounts(services[name]).get(path)
            check(volume, f"{name}: nothing mounted at the blob directory {path}")
            blob_volumes.add(volume)
    check(len(blob_volumes) <= 1, f"API and workers mount different blob volumes: {blob_volumes}")


def last_instruction(dockerfile: str, name: str) -> str:
    joined = re.sub(r"\\\n", " ", dockerfile)
    found = re.findall(rf"^\s*{name}\s+(.+)$", joined, flags=re.M | re.I)
    return found[-1].strip() if found else ""


def check_dockerfiles() -> None:
    api = (ROOT / "Dockerfile").read_text()
    check(
        re.search(r"^FROM\s+\S*python:3\.12-slim", api, re.M) or "python:3.12-slim" in api,
        "Dockerfile: not based on python:3.12-slim",
    )
    check("-r requirements.txt" in api, "Dockerfile: does not install requirements.txt")
    check("pip install --no-deps ." in api, "Dockerfile: does not `pip install --no-deps .`")
    user = last_instruction(api, "USER").split(":")[0]
    check(user and user not in ("root", "0"), "Dockerfile: does not run as a non-root user")
    check(last_instruction(api, "HEALTHCHECK"), "Dockerfile: no HEALTHCHECK")
    try:
        cmd = json.loads(last_instruction(api, "CMD"))
    except ValueError:
        cmd = None
    check(cmd == API_COMMAND, f"Dockerfile: CMD is not {API_COMMAND}")

    web = (ROOT / "Dockerfile.frontend").read_text()
    check(re.search(r"^FROM\s+\S*nginx", web, re.M), "Dockerfile.frontend: not an nginx image")
    check(
        "frontend" in last_instruction(web, "COPY") or "COPY frontend" in web,
        "Dockerfile.frontend: does not copy frontend/",
    )
    check("3000" in last_instruction(web, "EXPOSE"), "Dockerfile.frontend: port 3000")
    template = (ROOT / "deploy/nginx/default.conf.template").read_text()
    check(re.search(r"listen\s+3000\b", template), "nginx: does not listen on 3000")
    check(re.search(r"location\s+/api/", template), "nginx: /api/ not forwarded")
    check(re.search(r"location\s+[^{]*health", template), "nginx: /health not forwarded")
    check(re.search(r"client_max_body_size\s+\S+;", template), "nginx: no client_max_body_size")
    for var in re.findall(r"\$\{(\w+)\}", template):
        check(
            var in web or var == "NGINX_LOCAL_RESOLVERS",
            f"nginx: ${{{var}}} has no default in Dockerfile.frontend",
        )


def main() -> int:
    check_dockerfiles()
    compose = compose_command()
    if compose is None:
        print(
            "check_deploy: no `docker compose` or `docker-compose`: docker-compose.yml not "
            "checked (Debian: apt-get install docker-compose)",
            file=sys.stderr,
        )
        code = NO_COMPOSE
    else:
        check_compose(resolved_config(compose))
        code = 0
    if problems:
        print("check_deploy: FAILED", *problems, sep="\n  ", file=sys.stderr)
        return 1
    what = "Dockerfiles and nginx" if compose is None else "docker-compose.yml, Dockerfiles, nginx"
    print(f"check_deploy: {what}: all checks passed")
    return code


if __name__ == "__main__":
    sys.exit(main())
