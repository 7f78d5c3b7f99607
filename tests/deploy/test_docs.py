"""docs/ describe what the code does: every event type, setting, route and error code the
code has must be in them (and nothing the code no longer has), so a change to the code
without its documentation fails here. Nothing here needs a server."""

from __future__ import annotations

import base64
import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic_settings import BaseSettings

from sportslog_activities.settings import ActivitiesSettings
from sportslog_auth.settings import AuthSettings
from sportslog_common.errors import STATUS_CODES, AppError
from sportslog_common.events import EVENT_MODELS
from sportslog_common.settings import CommonSettings, DatabaseSettings, InternalApiSettings
from sportslog_gateway.revocations import REVOCATION_EVENTS
from sportslog_gateway.settings import GatewaySettings
from sportslog_notifier.settings import NotifierSettings

try:  # the bus package (issue 17, point 3)
    from sportslog_common.bus.topology import CONSUMER_BINDINGS
except ImportError:  # the bus module before it
    from sportslog_common.bus import CONSUMER_BINDINGS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PACKAGES = (
    "sportslog_common",
    "sportslog_auth",
    "sportslog_activities",
    "sportslog_notifier",
    "sportslog_gateway",
)
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def read(name: str) -> str:
    return (DOCS / name).read_text()


def section(text: str, heading: str) -> str:
    """The text under `heading` (e.g. "## Events"), up to the next heading of its level or
    higher."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        raise AssertionError(f"no heading {heading!r}") from None
    body = []
    for line in lines[start + 1 :]:
        match = re.match(r"^(#+) ", line)
        if match and len(match[1]) <= level:
            break
        body.append(line)
    return "\n".join(body)


def table_rows(text: str) -> list[list[str]]:
    """The cells of every table row (header and separator rows left out)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or re.match(r"^\|[\s:|-]+\|$", line):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append(cells)
    return rows[1:] if rows else rows  # the first row is the header


def names(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


# --- events ------------------------------------------------------------------------------


def event_rows() -> dict[str, list[str]]:
    rows = table_rows(section(read("architecture.md"), "## Events"))
    return {cell[0].strip("`"): cell for cell in rows if cell[0].startswith("`")}


def expected_consumers(event_type: str) -> set[str]:
    consumers = {name for name, keys in CONSUMER_BINDINGS.items() if event_type in keys}
    if event_type in REVOCATION_EVENTS:
        consumers.add("gateway")
    return consumers


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_every_event_type_is_in_architecture_md(event_type):
    row = event_rows().get(event_type)
    assert row is not None, f"docs/architecture.md, Events: no row for `{event_type}`"
    producer, consumers, data = row[1:4]
    model = EVENT_MODELS[event_type]
    assert producer == model.__module__.rsplit(".", 1)[-1], (
        f"{event_type}: the producer is {model.__module__.rsplit('.', 1)[-1]}, not {producer}"
    )
    listed = {c.strip() for c in consumers.split(",")} - {"—", ""}
    assert listed == expected_consumers(event_type), (
        f"{event_type}: bound by {sorted(expected_consumers(event_type))}, the doc says"
        f" {sorted(listed)}"
    )
    missing = set(model.model_fields) - names(data)
    assert not missing, f"{event_type}: fields not in its row: {sorted(missing)}"


def test_architecture_md_lists_no_event_that_does_not_exist():
    stale = set(event_rows()) - set(EVENT_MODELS)
    assert not stale, f"docs/architecture.md lists events the code does not have: {stale}"


# --- settings ----------------------------------------------------------------------------

SERVICE_SETTINGS: dict[str, type[BaseSettings]] = {
    "auth": AuthSettings,
    "activities": ActivitiesSettings,
    "notifier": NotifierSettings,
    "gateway": GatewaySettings,
}
# Where a field is documented: under the class that declares it.
SETTINGS_SECTIONS: dict[type[BaseSettings], str] = {
    CommonSettings: "### Every service",
    DatabaseSettings: "### Every service with a database",
    InternalApiSettings: "### Internal calls: auth and gateway",
    AuthSettings: "### auth",
    ActivitiesSettings: "### activities",
    NotifierSettings: "### notifier",
    GatewaySettings: "### gateway",
}


def declaring_class(cls: type[BaseSettings], field: str) -> type[BaseSettings]:
    for base in cls.__mro__:
        if field in vars(base).get("__annotations__", {}):
            return base
    raise AssertionError(f"{cls.__name__}.{field}: declared nowhere")


def documented_variables(heading: str) -> set[str]:
    config = section(read("operations.md"), "## Configuration")
    return set().union(*(names(row[0]) for row in table_rows(section(config, heading))))


@pytest.mark.parametrize("service", sorted(SERVICE_SETTINGS))
def test_every_setting_is_in_operations_md(service):
    cls = SERVICE_SETTINGS[service]
    missing = []
    for field in cls.model_fields:
        heading = SETTINGS_SECTIONS[declaring_class(cls, field)]
        if field.upper() not in documented_variables(heading):
            missing.append(f"{field.upper()} (under {heading!r})")
    assert not missing, f"docs/operations.md does not document {service}'s {missing}"


def test_operations_md_documents_no_setting_that_does_not_exist():
    known = {f.upper() for cls in SETTINGS_SECTIONS for f in cls.model_fields}
    for heading in SETTINGS_SECTIONS.values():
        stale = {
            name
            for name in documented_variables(heading)
            if re.fullmatch(r"[A-Z0-9_]+", name) and name not in known
        }
        assert not stale, f"docs/operations.md, {heading}: no such setting {sorted(stale)}"


# --- routes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def apps(tmp_path_factory) -> dict[str, Any]:
    from sportslog_activities.app import create_app as activities_app
    from sportslog_auth.app import create_app as auth_app
    from sportslog_gateway.app import create_app as gateway_app

    key = tmp_path_factory.mktemp("docs") / "jwt.pem"
    key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    common = {"jwt_issuer": "http://docs.test", "log_format": "console"}
    seal = base64.b64encode(b"k" * 32).decode()
    return {
        "auth": auth_app(
            AuthSettings(
                database_url="postgresql://docs.test/auth",
                jwt_private_key_file=key,
                token_hmac_secret="h" * 32,
                internal_api_key="i" * 32,
                event_seal_key=seal,
                **common,
            )
        ),
        "activities": activities_app(
            ActivitiesSettings(
                database_url="postgresql://docs.test/activities",
                jwks_url="http://docs.test/.well-known/jwks.json",
                cursor_secret="c" * 32,
                **common,
            )
        ),
        "gateway": gateway_app(
            GatewaySettings(
                auth_url="http://docs.test:8001",
                activities_url="http://docs.test:8002",
                jwks_url="http://docs.test/.well-known/jwks.json",
                internal_api_key="i" * 32,
                **common,
            )
        ),
    }


@pytest.fixture(scope="module")
def gateway_openapi(apps) -> dict[str, Any]:
    """What the gateway's /openapi.json serves: the services' documents, merged."""
    from sportslog_gateway.openapi import merge

    return merge({name: apps[name].openapi() for name in ("auth", "activities")})


def route_rows(heading: str) -> dict[tuple[str, str], list[str]]:
    rows = table_rows(section(read("api.md"), heading))
    return {(r[0], r[1].strip("`")): r for r in rows if r[0] in HTTP_METHODS}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def test_every_route_of_the_gateway_openapi_is_in_api_md(gateway_openapi):
    documented = set(route_rows("## Routes"))
    served = set(operations(gateway_openapi))
    assert len(served) > 30
    missing = sorted(served - documented)
    assert not missing, f"docs/api.md, Routes: no row for {missing}"
    stale = sorted(documented - served)
    assert not stale, f"docs/api.md, Routes: the gateway serves no {stale}"


# Responses the gateway's merge adds to every operation, and the token check of every
# protected one: "Answers any route can give" in api.md covers them.
GENERIC = ("The request is malformed", "Validation failed (`validation_error`")


def error_codes_by_response() -> dict[tuple[int, str], set[str]]:
    found: dict[tuple[int, str], set[str]] = {}
    for cls in app_errors():
        found.setdefault((cls.status, cls.message), set()).add(cls.code)
    return found


def test_each_route_row_has_its_auth_statuses_and_errors(gateway_openapi):
    rows = route_rows("## Routes")
    by_response = error_codes_by_response()
    problems = []
    for key, operation in operations(gateway_openapi).items():
        row = rows.get(key)
        if row is None:
            continue  # reported by the test above
        auth, success, errors = row[2], row[3], row[4]
        protected = "security" in operation
        if (auth == "bearer") != protected:
            problems.append(f"{key}: auth is {'bearer' if protected else '—'}, not {auth!r}")
        for status, response in operation["responses"].items():
            description = response.get("description", "")
            if status.startswith(("2", "3")):
                if not re.search(rf"\b{status}\b", success):
                    problems.append(f"{key}: success {status} not in {success!r}")
                continue
            generic = description.startswith(GENERIC) or (
                protected and status == "401" and description == "Missing, invalid or expired token"
            )
            if generic:
                continue
            if not re.search(rf"\b{status}\b", errors):
                problems.append(f"{key}: error {status} ({description}) not in {errors!r}")
            codes = by_response.get((int(status), description), set())
            if len(codes) == 1 and not codes & names(errors):
                problems.append(f"{key}: error code {codes.pop()} not in {errors!r}")
    assert not problems, "docs/api.md, Routes:\n  " + "\n  ".join(problems)


def served_paths(routes: list[Any], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route, into included routers too: FastAPI 0.165 keeps an
    included router whole (an `_IncludedRouter` with its prefix), earlier ones copied its
    routes."""
    found = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            found |= served_paths(included.routes, prefix + getattr(context, "prefix", ""))
        elif hasattr(route, "path"):
            methods = getattr(route, "methods", None) or set()
            found |= {(m, prefix + route.path) for m in methods & HTTP_METHODS}
    return found


def test_the_gateways_own_endpoints_are_in_api_md(apps):
    # All but the catch-all that proxies to the services.
    own = {(m, path) for m, path in served_paths(apps["gateway"].routes) if "{" not in path}
    assert {("GET", "/health"), ("GET", "/openapi.json")} <= own
    missing = sorted(own - set(route_rows("## The gateway's own endpoints")))
    assert not missing, f"docs/api.md, The gateway's own endpoints: no row for {missing}"


# --- error codes -------------------------------------------------------------------------


def app_errors() -> set[type[AppError]]:
    """Every AppError subclass of libs/common and the services (test support left out)."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if info.name.endswith("__main__") or ".testing" in info.name:
                continue
            importlib.import_module(info.name)
    found: set[type[AppError]] = set()
    todo = [AppError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return {cls for cls in found if cls.__module__.startswith(PACKAGES)}


def error_code_rows() -> dict[str, list[str]]:
    rows = table_rows(section(read("api.md"), "### Every error code"))
    return {row[0].strip("`"): row for row in rows}


def test_every_error_code_is_in_api_md():
    rows = error_code_rows()
    classes = app_errors()
    assert len(classes) > 30
    expected = {(cls.code, cls.status, cls.__qualname__) for cls in classes}
    expected |= {(code, status, f"STATUS_CODES[{status}]") for status, code in STATUS_CODES.items()}
    problems = []
    for code, status, where in sorted(expected):
        row = rows.get(code)
        if row is None:
            problems.append(f"`{code}` ({where}) has no row")
        elif row[1] != str(status):
            problems.append(f"`{code}` ({where}) is {status}, the row says {row[1]}")
    assert not problems, "docs/api.md, Every error code:\n  " + "\n  ".join(problems)


def test_api_md_lists_no_error_code_that_does_not_exist():
    codes = {cls.code for cls in app_errors()} | set(STATUS_CODES.values())
    # Bodies built by hand (e.g. /ready's `not_ready`).
    for path in [*ROOT.glob("libs/common/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        codes |= set(re.findall(r'"code": "([a-z_]+)"', path.read_text()))
    stale = sorted(set(error_code_rows()) - codes)
    assert not stale, f"docs/api.md lists error codes the code does not have: {stale}"


# --- metrics -----------------------------------------------------------------------------


def test_every_metric_is_in_operations_md():
    defined = set()
    for path in [*ROOT.glob("libs/common/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        defined |= set(re.findall(r'(?:Counter|Gauge|Histogram)\(\s*"(\w+)"', path.read_text()))
    assert len(defined) > 15
    rows = table_rows(section(read("operations.md"), "## Monitoring"))
    documented = set().union(*(names(row[0]) for row in rows))
    assert not defined - documented, f"docs/operations.md, Monitoring: {defined - documented}"
    assert not documented - defined, f"docs/operations.md lists {documented - defined}"


# --- links -------------------------------------------------------------------------------


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lowercased, punctuation dropped, spaces to dashes."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize(
    "doc", ["docs/architecture.md", "docs/api.md", "docs/operations.md", "CONTRIBUTING.md"]
)
def test_links_resolve(doc):
    source = ROOT / doc
    text = re.sub(r"```.*?```", "", source.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        path = (source.parent / file).resolve() if file else source
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
            broken.append(target)
    assert not broken, f"{doc}: links to nothing: {broken}"
