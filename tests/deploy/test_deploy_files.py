import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from sportslog_activities.settings import ActivitiesSettings
from sportslog_auth.settings import AuthSettings, oidc_providers_from_environ
from sportslog_gateway.settings import GatewaySettings
from sportslog_notifier.settings import NotifierSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
QUADLETS = DEPLOY / "quadlets"
# One image definition for every service, which the build argument SERVICE picks.
CONTAINERFILE = ROOT / "Containerfile"

PORTS = {"gateway": 8000, "auth": 8001, "activities": 8002, "notifier": 8003}
APPS = tuple(PORTS)
DB_APPS = ("auth", "activities", "notifier")
SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "auth": AuthSettings,
    "activities": ActivitiesSettings,
    "notifier": NotifierSettings,
}
JWKS_URL = "http://auth:8001/.well-known/jwks.json"

# DESIGN.md §3: what each service must be given.
COMMON_ENV = {"AMQP_URL", "LOG_LEVEL", "LOG_FORMAT", "PORT"}
SERVICE_ENV = {
    "auth": {
        "DATABASE_URL",
        "JWT_PRIVATE_KEY_FILE",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "APP_BASE_URL",
        "TOKEN_HMAC_SECRET",
        "EVENT_SEAL_KEY",
        "OAUTH_TOKEN_ENCRYPTION_KEY",
        "INTERNAL_API_KEY",
    },
    "activities": {"DATABASE_URL", "JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE"},
    "notifier": {
        "DATABASE_URL",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_FROM",
        "SMTP_TLS",
        "EVENT_SEAL_KEY",
        "APP_BASE_URL",
    },
    "gateway": {
        "AUTH_URL",
        "ACTIVITIES_URL",
        "JWKS_URL",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "INTERNAL_API_KEY",
    },
}
SECRET_ENV = {
    "TOKEN_HMAC_SECRET",
    "INTERNAL_API_KEY",
    "EVENT_SEAL_KEY",
    "OAUTH_TOKEN_ENCRYPTION_KEY",
    "POSTGRES_PASSWORD",
    "AUTH_DB_PASSWORD",
    "ACTIVITIES_DB_PASSWORD",
    "NOTIFIER_DB_PASSWORD",
    "RABBITMQ_DEFAULT_PASS",
    "GF_SECURITY_ADMIN_PASSWORD",
}
PUBLISHED = {"gateway", "grafana", "prometheus", "mailpit"}

# DESIGN.md §6.
METRICS = {
    "http_requests_total",
    "sportslog_db_pool_connections",
    "sportslog_events_published_total",
    "sportslog_events_consumed_total",
    "sportslog_outbox_pending",
    "sportslog_users_registered_total",
    "sportslog_logins_total",
    "sportslog_activities_created_total",
    "sportslog_notifications_total",
    "sportslog_gateway_auth_failures_total",
    "sportslog_gateway_rate_limited_total",
}
HISTOGRAMS = {"http_request_duration_seconds", "sportslog_gateway_upstream_duration_seconds"}
ALLOWED_METRICS = METRICS | {h + s for h in HISTOGRAMS for s in ("_bucket", "_count", "_sum")}
DASHBOARD_MUST_SHOW = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "sportslog_users_registered_total",
    "sportslog_logins_total",
    "sportslog_activities_created_total",
    "sportslog_notifications_total",
    "sportslog_events_published_total",
    "sportslog_events_consumed_total",
    "sportslog_outbox_pending",
    "sportslog_db_pool_connections",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
PROMQL_WORDS |= {"and", "or", "unless", "offset"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: str(value) for key, value in env.items()}


def build_args(build: dict[str, Any]) -> dict[str, str]:
    args = build.get("args") or {}
    if isinstance(args, list):
        args = dict(item.partition("=")[::2] for item in args)
    return {key: str(value) for key, value in args.items()}


def is_interpolated(value: str) -> bool:
    return re.fullmatch(r"\$\{[A-Z0-9_]+(:?\?[^}]*)?\}", value) is not None


def test_compose_defines_the_stack(compose):
    expected = {"postgres", "rabbitmq", "mailpit", "prometheus", "grafana", *APPS}
    assert expected <= set(compose["services"])


@pytest.mark.parametrize("svc", APPS)
def test_compose_app_service(compose, svc):
    service = compose["services"][svc]
    build = service["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == CONTAINERFILE
    # Without SERVICE the build fails; with another service's name it builds that one.
    assert build_args(build).get("SERVICE") == svc, f"{svc}: the build must pass SERVICE={svc}"

    env = env_of(service)
    required = COMMON_ENV | SERVICE_ENV[svc]
    assert required <= set(env), f"{svc} lacks {sorted(required - set(env))}"
    assert env["PORT"] == str(PORTS[svc])
    if "JWKS_URL" in env:
        assert env["JWKS_URL"] == JWKS_URL
    assert "healthcheck" in service
    deps = service["depends_on"]
    needed = {"rabbitmq"} if svc == "gateway" else {"postgres", "rabbitmq"}
    for dep in needed:
        assert deps[dep]["condition"] == "service_healthy"


def test_compose_auth_gets_signing_key_as_secret(compose):
    auth = compose["services"]["auth"]
    key_file = env_of(auth)["JWT_PRIVATE_KEY_FILE"]
    mounted = {f"/run/secrets/{s['target']}" for s in auth["secrets"] if isinstance(s, dict)}
    assert key_file in mounted
    assert all("file" in s for s in compose["secrets"].values())


def test_compose_only_front_services_publish_ports(compose):
    publishing = {name for name, s in compose["services"].items() if s.get("ports")}
    assert publishing == PUBLISHED


@pytest.mark.parametrize("svc", DB_APPS)
def test_compose_service_logs_in_as_its_own_role(compose, svc):
    url = env_of(compose["services"][svc])["DATABASE_URL"]
    # Not urlsplit: the ${...:?...} placeholder holds a "?".
    match = re.fullmatch(r"postgresql://(\w+):(\$\{[^}]*\})@postgres:5432/(\w+)", url)
    assert match, url
    user, password, database = match.groups()
    assert user == database == f"sportslog_{svc}"
    variable = f"{svc.upper()}_DB_PASSWORD"
    assert password == f"${{{variable}:?set {variable} in deploy/secrets.env}}"
    # The init script makes the role with the same value, on the first start.
    postgres = compose["services"]["postgres"]
    assert env_of(postgres)[variable] == password
    assert (
        "./deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/init-databases.sh:ro"
        in (postgres["volumes"])
    )
    assert f"{variable}=" in (DEPLOY / "secrets.env.example").read_text()


def test_compose_holds_no_secret_values(compose):
    for name, service in compose["services"].items():
        for key, value in env_of(service).items():
            if key in SECRET_ENV:
                assert is_interpolated(value), f"{name}: {key} must come from the env file"
            password = re.search(r"://[^:/@]+:([^@]*)@", value)
            if password:
                assert is_interpolated(password.group(1)), f"{name}: password in {key}"
    text = (ROOT / "compose.yaml").read_text()
    assert not re.search(r"[A-Za-z0-9+/]{40,}={0,2}", text), "key-like literal in compose.yaml"


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = root["tool"]["uv"]["workspace"]["members"]
    return sorted(
        path.relative_to(ROOT).as_posix()
        for pattern in members
        for path in ROOT.glob(pattern)
        if path.is_dir()
    )


def instructions(containerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", containerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def stages(steps: list[tuple[str, str]]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(name, base, instructions) of each stage, in order; name "" when it has none."""
    result: list[tuple[str, str, list[tuple[str, str]]]] = []
    for op, arg in steps:
        if op == "FROM":
            words = arg.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            result.append((name, words[0], []))
        elif result:
            result[-1][2].append((op, arg))
    return result


def global_args(steps: list[tuple[str, str]]) -> dict[str, str]:
    """The build arguments declared before the first FROM, with their defaults."""
    first_from = next(i for i, (op, _) in enumerate(steps) if op == "FROM")
    declared = (arg.split("=", 1) for op, arg in steps[:first_from] if op == "ARG")
    return {pair[0]: pair[1] if len(pair) == 2 else "" for pair in declared}


def resolve(arg: str, values: dict[str, str]) -> str:
    """${NAME}, $NAME and ${NAME:-word} as a build expands them."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1) or match.group(3), match.group(2)
        value = values.get(name, "")
        return value if value or default is None else default

    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", one, arg)


def build_for(
    service: str | None, **build_args: str
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """What `build --build-arg SERVICE=<service>` (and `build_args`) makes of the
    Containerfile: the builder's instructions, and the image's (the final stage after the
    stages it is built on, from its base image on). service None: the build without SERVICE."""
    steps = instructions(CONTAINERFILE)
    values = {**global_args(steps), **build_args, "SERVICE": service or ""}
    resolved = [(op, resolve(arg, values) if op != "ARG" else arg) for op, arg in steps]
    by_name = {name: (base, body) for name, base, body in stages(resolved) if name}
    builder_base, builder = by_name["builder"]
    assert builder_base == values["PYTHON_IMAGE"]
    uv_base = by_name["uv"][0]
    assert ("COPY", "--from=uv /uv /uvx /bin/") in builder
    uv_source = by_name[uv_base][1] if uv_base in by_name else []
    builder = [*uv_source, *builder]
    _, base, image = stages(resolved)[-1]
    chain = [("FROM", base)]
    while base in by_name:
        base, body = by_name[base]
        image = body + image
        chain.insert(0, ("FROM", base))
    return builder, [chain[0], *image]


def test_containerfile_takes_service_and_needs_it():
    steps = instructions(CONTAINERFILE)
    # Declared before the first FROM (for FROM service-${SERVICE}) without a default...
    assert steps.index(("ARG", "SERVICE")) < next(i for i, s in enumerate(steps) if s[0] == "FROM")
    # ...and in every stage that uses it.
    for name, _, body in stages(steps):
        if any("SERVICE" in arg for op, arg in body if op != "ARG"):
            assert ("ARG", "SERVICE") in body, f"stage {name} uses SERVICE without ARG SERVICE"
    # Without SERVICE the final FROM names no stage; its base is no valid image name
    # (the build fails instead of building some default service).
    _, image = build_for(None)
    assert image[0] == ("FROM", "service-")
    assert not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", image[0][1])
    # A stage per service, and no other.
    named = {name for name, _, _ in stages(steps)}
    assert {name for name in named if name.startswith("service-")} == {
        f"service-{svc}" for svc in APPS
    }
    # The four per-service copies are gone: nothing can drift from this one file.
    assert not list(ROOT.glob("services/*/Containerfile"))


@pytest.mark.parametrize("svc", APPS)
def test_containerfile(svc):
    builder, runtime = build_for(svc)
    syncs = [arg for op, arg in builder if op == "RUN" and "uv sync" in arg]
    assert len(syncs) == 2
    for sync in syncs:
        assert "--locked" in sync
        assert "--no-dev" in sync
        assert re.search(rf'--package "?sportslog-{svc}"?(\s|$)', sync), sync
        for member in workspace_members():
            assert f"source={member}/pyproject.toml" in sync, f"{member} not mounted"
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1]
    # Only the code the service runs: never libs/ wholesale, so never libs/testing.
    copies = [arg.split()[0] for op, arg in builder if op == "COPY" and "--from" not in arg]
    assert copies == ["libs/common", f"services/{svc}"]

    assert runtime[0][1] == "docker.io/library/python:3.11-slim-bookworm"
    assert [op for op, _ in runtime].count("FROM") == 1
    assert ("COPY", "--from=builder /app/.venv /app/.venv") in runtime
    users = [arg for op, arg in runtime if op == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert [arg for op, arg in runtime if op == "EXPOSE"] == [str(PORTS[svc])]
    # The services bind 127.0.0.1 by default (safe for make dev); in a container that
    # would leave them unreachable from the gateway and Prometheus.
    envs = " ".join(arg for op, arg in runtime if op == "ENV").split()
    assert "HOST=0.0.0.0" in envs
    # The port the service listens on, and the health check's.
    assert [word for word in envs if word.startswith("PORT=")] == [f"PORT={PORTS[svc]}"]
    healthchecks = [arg for op, arg in runtime if op == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/health" in healthchecks[0]
    assert "os.environ['PORT']" in healthchecks[0]
    cmds = [json.loads(arg) for op, arg in runtime if op == "CMD"]
    assert cmds[-1] == ["python", "-m", f"sportslog_{svc}"]
    labels = " ".join(arg for op, arg in runtime if op == "LABEL")
    assert f'org.opencontainers.image.title="sportslog-{svc}"' in labels
    for label in ("source", "version", "revision"):
        assert f"org.opencontainers.image.{label}=" in labels


def test_containerfile_bases_are_build_arguments():
    """DESIGN.md §9: the public images by default; a local Python image and uv from PyPI
    where no registry is reachable (what `make images` passes there)."""
    steps = instructions(CONTAINERFILE)
    defaults = global_args(steps)
    assert defaults["PYTHON_IMAGE"] == "docker.io/library/python:3.11-slim-bookworm"
    assert defaults["UV_IMAGE"].startswith("ghcr.io/astral-sh/uv:")
    uv_version = defaults["UV_IMAGE"].rsplit(":", 1)[1]
    assert defaults["UV_VERSION"] == uv_version  # one uv either way
    ci = (ROOT / ".ci" / "run").read_text()
    assert f'"uv=={uv_version}"' in ci  # and the uv CI runs the lock with

    public_builder, public_image = build_for("auth")
    assert not any("pip install" in arg for _, arg in public_builder)
    local = {"PYTHON_IMAGE": "localhost/sportslog-python:3.11", "UV_IMAGE": ""}
    local_builder, local_image = build_for("auth", **local)
    pip = [arg for op, arg in local_builder if op == "RUN" and "pip install" in arg]
    assert len(pip) == 1
    assert f'"uv=={uv_version}"' in pip[0]
    assert local_image[0] == ("FROM", "localhost/sportslog-python:3.11")
    assert local_image[1:] == public_image[1:]


BUILD_DOCS = (ROOT / "README.md", DEPLOY / "k8s" / "README.md", CONTAINERFILE)


@pytest.mark.parametrize("path", BUILD_DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_documented_builds_pass_service(path):
    text = path.read_text()
    commands = re.findall(r"(?:docker|podman) build\b[^`\n]*(?:\n[^`\n]*)?", text)
    assert commands, f"{path.name} shows no image build"
    for command in commands:
        match = re.search(r"--build-arg SERVICE=([a-z]+)", command)
        assert match, f"{path.name}: {command!r} does not pass SERVICE"
        assert match.group(1) in APPS
        assert "-f services/" not in command


def test_nothing_names_a_per_service_containerfile():
    paths = [ROOT / "compose.yaml", ROOT / ".dockerignore", ROOT / "README.md"]
    paths += [ROOT / "scripts" / "check_packages.sh"]
    paths += [path for path in DEPLOY.rglob("*") if path.is_file()]
    for path in paths:
        text = path.read_text()
        assert not re.search(r"services/[^/\s]+/Containerfile", text), path


def test_build_context_leaves_out_the_test_support():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "libs/testing/src" in ignored
    # ...but not its pyproject.toml: a workspace member, mounted for uv's lock check.
    assert "libs/testing" in workspace_members()
    assert not {"libs", "libs/*", "libs/testing", "libs/testing/*"} & set(ignored)


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}: key outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: bad line {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def test_quadlet_set_is_complete():
    names = {path.name for path in QUADLETS.iterdir()}
    containers = ("postgres", "rabbitmq", "prometheus", "grafana", *APPS)
    assert {f"sportslog-{name}.container" for name in containers} <= names
    assert "sportslog.network" in names
    volumes = ("postgres", "rabbitmq", "prometheus", "grafana")
    assert {f"sportslog-{name}.volume" for name in volumes} <= names


@pytest.mark.parametrize("path", sorted(QUADLETS.glob("*.container")), ids=lambda p: p.name)
def test_quadlet_container(path):
    unit = parse_unit(path)
    assert values(unit, "Container", "Image")
    assert values(unit, "Container", "Network") == ["sportslog.network"]
    assert values(unit, "Service", "Restart") == ["always"]
    assert values(unit, "Install", "WantedBy") == ["default.target"]
    for volume in values(unit, "Container", "Volume"):
        source = volume.split(":", 1)[0]
        if source.endswith(".volume"):
            assert (QUADLETS / source).is_file()


@pytest.mark.parametrize("svc", APPS)
def test_quadlet_app(svc):
    unit = parse_unit(QUADLETS / f"sportslog-{svc}.container")
    assert values(unit, "Container", "Image") == [f"localhost/sportslog-{svc}:latest"]
    health = values(unit, "Container", "HealthCmd")
    assert health
    assert f"127.0.0.1:{PORTS[svc]}/health" in health[0]
    needs = {"rabbitmq"} if svc == "gateway" else {"postgres", "rabbitmq"}
    for key in ("Requires", "After"):
        listed = " ".join(values(unit, "Unit", key)).split()
        assert {f"sportslog-{dep}.service" for dep in needs} <= set(listed)
    published = values(unit, "Container", "PublishPort")
    assert bool(published) == (svc == "gateway")


def read_env_example(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: bad line {line!r}"
            pairs[key.strip()] = value
    return pairs


def quadlet_env(svc: str) -> dict[str, str]:
    """Every variable the service's container gets, and where from."""
    unit = parse_unit(QUADLETS / f"sportslog-{svc}.container")
    assert values(unit, "Container", "EnvironmentFile") == [f"/etc/sports-log/{svc}.env"]
    sources = dict.fromkeys(read_env_example(QUADLETS / "env" / f"{svc}.env.example"), "file")
    for assignments in values(unit, "Container", "Environment"):
        for assignment in assignments.split():
            sources[assignment.partition("=")[0]] = "unit"
    for secret in values(unit, "Container", "Secret"):
        options = dict(option.partition("=")[::2] for option in secret.split(",")[1:])
        if options.get("type") == "env":
            sources[options["target"]] = "secret"
    return sources


def looks_secret(variable: str) -> bool:
    return variable.endswith(("_SECRET", "_KEY", "_PASS", "_TOKEN", "PASSWORD")) or variable in {
        "AMQP_URL"
    }


@pytest.mark.parametrize("svc", APPS)
def test_quadlet_env_is_complete_and_keeps_secrets_out_of_files(svc):
    sources = quadlet_env(svc)
    fields = {name.upper(): info for name, info in SETTINGS[svc].model_fields.items()}
    # asyncpg reads PGPASSWORD when DATABASE_URL has none; auth reads OIDC_<NAME>_*.
    unknown = {
        v
        for v in sources
        if v not in fields
        and v != "PGPASSWORD"
        and not (svc == "auth" and oidc_providers_from_environ({v: "x"}))
    }
    assert not unknown, f"{svc} does not read {sorted(unknown)}"
    missing = {v for v, info in fields.items() if info.is_required() and v not in sources}
    assert not missing, f"{svc} would refuse to start without {sorted(missing)}"
    for variable, source in sources.items():
        if looks_secret(variable):
            assert source == "secret", f"{svc}: {variable} from the {source}"
    for value in read_env_example(QUADLETS / "env" / f"{svc}.env.example").values():
        assert urlsplit(value).password is None, f"{svc}: a password in {value}"
    if svc in DB_APPS:
        url = urlsplit(read_env_example(QUADLETS / "env" / f"{svc}.env.example")["DATABASE_URL"])
        assert (url.username, url.hostname, url.path) == (
            f"sportslog_{svc}",
            "postgres",
            f"/sportslog_{svc}",
        )
        assert sources["PGPASSWORD"] == "secret"


def test_quadlet_postgres_makes_the_roles_the_services_use():
    unit = parse_unit(QUADLETS / "sportslog-postgres.container")
    given = {secret.split(",")[0]: secret for secret in values(unit, "Container", "Secret")}
    for svc in DB_APPS:
        name = f"sportslog-{svc}-db-password"
        assert f"target={svc.upper()}_DB_PASSWORD" in given[name]
        app = parse_unit(QUADLETS / f"sportslog-{svc}.container")
        assert f"{name},type=env,target=PGPASSWORD" in values(app, "Container", "Secret")
    mounts = values(unit, "Container", "Volume")
    assert any(
        m.startswith("/etc/sports-log/postgres/init-databases.sh:/docker-entrypoint-initdb.d/")
        for m in mounts
    )


def test_shared_settings_agree_across_env_examples():
    examples = {svc: read_env_example(QUADLETS / "env" / f"{svc}.env.example") for svc in APPS}
    for variable in ("JWT_ISSUER", "JWT_AUDIENCE", "APP_BASE_URL"):
        seen = {svc: env[variable] for svc, env in examples.items() if variable in env}
        assert len(seen) >= 2, variable
        assert len(set(seen.values())) == 1, f"{variable}: {seen}"


def dashboard_exprs(panels: list[dict[str, Any]]) -> list[str]:
    exprs = []
    for panel in panels:
        exprs += [target["expr"] for target in panel.get("targets", []) if "expr" in target]
        exprs += dashboard_exprs(panel.get("panels", []))
    return exprs


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = re.findall(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\b(?!\s*\()", expr)
    return {name for name in names if name not in PROMQL_WORDS}


def test_metric_names_parser():
    expr = 'histogram_quantile(0.9, sum by (le) (rate(x_bucket{a="b"}[$__rate_interval]))) / y'
    assert metric_names(expr) == {"x_bucket", "y"}


def test_grafana_dashboard():
    dashboard = json.loads((DEPLOY / "grafana/dashboards/sportslog-overview.json").read_text())
    assert dashboard["schemaVersion"] == 39
    assert dashboard["uid"]
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))

    datasources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uids = {ds["uid"] for ds in datasources["datasources"]}
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] in uids, panel["title"]

    used = set().union(*(metric_names(expr) for expr in dashboard_exprs(panels)))
    unknown = {m for m in used - ALLOWED_METRICS if not m.startswith("process_")}
    assert not unknown, f"metrics not in DESIGN.md §6: {sorted(unknown)}"
    assert used >= DASHBOARD_MUST_SHOW, f"missing {sorted(DASHBOARD_MUST_SHOW - used)}"


def test_grafana_dashboard_provider_points_at_mounted_dir(compose):
    providers = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/dashboards.yml").read_text()
    )
    paths = {p["options"]["path"] for p in providers["providers"]}
    mounts = {v.split(":")[1] for v in compose["services"]["grafana"]["volumes"]}
    assert paths <= mounts


def test_prometheus_scrapes_every_container_of_every_service():
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for svc, port in PORTS.items():
        job = jobs[svc]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        # DNS discovery, not a static target: one target per container behind the alias.
        assert "static_configs" not in job
        assert job["dns_sd_configs"] == [
            {"names": [svc], "type": "A", "port": port, "refresh_interval": "15s"}
        ]


def test_compose_names_only_what_exists(compose):
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    declared_secrets = set(compose.get("secrets") or {})
    example = (DEPLOY / "secrets.env.example").read_text()
    for name, service in services.items():
        for dep in service.get("depends_on") or {}:
            assert dep in services, f"{name} depends on unknown {dep}"
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        for secret in service.get("secrets") or []:
            assert (secret["source"] if isinstance(secret, dict) else secret) in declared_secrets
        image = service["image"]
        if "build" in service:
            assert image == f"localhost/sportslog-{name}:latest"
        else:
            assert re.fullmatch(r"docker\.io/[\w./-]+:[\w.-]+", image), image
            assert not image.endswith(":latest"), f"{name}: pin the image"
    # Every ${VAR} compose reads is documented in the env file's example.
    text = "\n".join(
        line
        for line in (ROOT / "compose.yaml").read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    for variable in set(re.findall(r"\$\{([A-Z0-9_]+)", text)):
        assert re.search(rf"^#? ?{variable}=", example, re.M), f"{variable} not in the example"


def test_quadlets_name_only_units_and_images_that_exist():
    units = {path.stem for path in QUADLETS.iterdir() if path.suffix == ".container"}
    for path in QUADLETS.glob("*.container"):
        unit = parse_unit(path)
        for key in ("Requires", "After", "Wants"):
            for dependency in " ".join(values(unit, "Unit", key)).split():
                if dependency.startswith("sportslog"):
                    assert dependency.removesuffix(".service") in units, (
                        f"{path.name}: {dependency}"
                    )
                else:
                    assert dependency == "network-online.target", f"{path.name}: {dependency}"
        for network in values(unit, "Container", "Network"):
            assert (QUADLETS / network).is_file()
        (image,) = values(unit, "Container", "Image")
        if image.startswith("localhost/"):
            # Built by deploy/setup.sh --build from the Containerfile, SERVICE=<name>.
            name = image.removeprefix("localhost/sportslog-").removesuffix(":latest")
            assert name in APPS, image
            assert build_for(name)[1][-1] == ("CMD", f'["python", "-m", "sportslog_{name}"]')
        else:
            assert not image.endswith(":latest"), f"{path.name}: pin the image"


def test_compose_local_override_only_swaps_images_and_build_bases(compose):
    """deploy/compose.local.yaml (issue 18 point 4): compose.yaml as it is, on images built
    here. It names only services compose.yaml has, changes only images, the build bases,
    the mail sink's Maildir and Grafana's profile, and every image it names is one
    scripts/local-images.sh or make images builds."""
    override = yaml.safe_load((DEPLOY / "compose.local.yaml").read_text())
    local_images = (ROOT / "scripts" / "local-images.sh").read_text()
    assert set(override["services"]) <= set(compose["services"])
    for name, service in override["services"].items():
        assert set(service) <= {"image", "build", "volumes", "profiles"}, name
        if "image" in service:
            repo, tag = service["image"].removeprefix("localhost/sportslog-").split(":")
            assert service["image"].startswith("localhost/sportslog-")
            assert f"{repo}:{tag}" in local_images, name
        if "build" in service:
            assert name in APPS
            assert build_args(service["build"]) == {
                "PYTHON_IMAGE": "localhost/sportslog-python:3.11",
                "UV_IMAGE": "",
            }
    # Every infrastructure image is replaced; Grafana (no Debian package) is opt-in.
    public = {n for n, s in compose["services"].items() if "build" not in s}
    assert public - {"grafana"} == {n for n, s in override["services"].items() if "image" in s}
    assert override["services"]["grafana"] == {"profiles": ["grafana"]}
    assert set(override["services"]) >= set(APPS)
