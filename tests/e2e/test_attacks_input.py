"""Hostile input in every text field, parameter and header of the public API, through a
gateway: SQL injection, NUL bytes, Unicode oddities (RTL override, zero-width, emoji, lone
surrogates that only JSON escapes can spell), HTML/script, CRLF, 1 MB strings, invalid UTF-8,
numbers JSON allows but Python or PostgreSQL cannot hold, deep nesting.

Each answer is either 2xx with the value stored verbatim (read back through the API) or a
4xx in the DESIGN error format; never a 5xx, and the user's other data is still there.
The fields and parameters come from the gateway's OpenAPI document, so one added later
without a probe here fails test_every_text_field_has_a_probe.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest

from sportslog_common.merge_patch import merge_patch
from sportslog_testing.processes import ServiceProcesses

TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")
PASSWORD = "a long enough secret"
ACTIVITY = {"activity_type": "run", "started_at": "2026-05-01T07:00:00Z", "duration_secs": 1800}
CODE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Raw:
    """Bytes that go into a JSON body as they are, where a value goes."""

    data: bytes


PAYLOADS: dict[str, Any] = {
    "sql_tautology": "' OR '1'='1' --",
    "sql_stacked_drop": "x'); DROP TABLE activities; DROP TABLE users; --",
    "sql_sleep": "'||pg_sleep(5)||'",
    "sql_escaped_quote": "\\'; SELECT 1; --\"",
    "nul_byte": "before\x00after",
    "rtl_override": "invoice\u202egpj.exe",
    "zero_width_combining_bom": "a\u200bb\u0301\ufeffc",
    "emoji_zwj_astral": "\U0001f3c3\u200d\u2640\ufe0f\U0001f525\U0001d54f",
    "lone_high_surrogate": "\ud800",
    "lone_low_surrogate_inside": "ab\udfffcd",
    "html_script": "<script>alert(document.cookie)</script>",
    "html_attribute": '"><img src=x onerror=alert(1)>',
    "crlf_header_injection": "x\r\nSet-Cookie: pwned=1",
    "format_and_templates": "%s%n%x{0}${jndi:ldap://127.0.0.1/a}{{7*7}}",
    "path_traversal": "../../../../etc/passwd",
    "operator_object": {"$ne": None, "$gt": ""},
    "array": ["a", 1, None],
    "one_megabyte": "A" * 1_000_000,
    "long_multibyte": "\u00e9" * 300_000,  # 600 KB of UTF-8
    "invalid_utf8": Raw(b'"\xff\xfe\xc0\xaf"'),
    "number_overflowing_to_inf": Raw(b"1e999"),
    "integer_of_5000_digits": Raw(b"9" * 5000),
    "deeply_nested": Raw(b"[" * 100_000 + b"]" * 100_000),
}
_RAW = "__raw_payload_goes_here__"


def encode(body: Any) -> bytes:
    """JSON as a client would send it: UTF-8, or \\u escapes where a lone surrogate cannot be
    UTF-8; a Raw value goes in byte for byte."""
    raw: list[bytes] = []

    def swap(value: Any) -> Any:
        if isinstance(value, Raw):
            raw.append(value.data)
            return _RAW
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    swapped = swap(body)
    try:
        data = json.dumps(swapped, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        data = json.dumps(swapped).encode()
    for chunk in raw:
        data = data.replace(f'"{_RAW}"'.encode(), chunk, 1)
    return data


@dataclass
class User:
    client: httpx.AsyncClient
    email: str
    password: str
    headers: dict[str, str]
    sid: str
    sentinel: dict[str, Any]  # an activity no probe touches
    target: dict[str, Any]  # the activity PUT and PATCH probes write to

    async def send(self, method: str, path: str, body: Any, auth: bool = True) -> httpx.Response:
        headers = {"content-type": "application/json", **(self.headers if auth else {})}
        return await self.client.request(method, path, content=encode(body), headers=headers)

    async def me(self) -> dict[str, Any]:
        r = await self.client.get("/me", headers=self.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def activity(self, activity_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/activities/{activity_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


# A probe sends the payload and yields each answer with, for a 2xx, how to read the value
# back as (what is stored, what should be); the test checks each before the next is sent.
ReadBack = Callable[[], Awaitable[tuple[Any, Any]]]
Outcome = tuple[httpx.Response, ReadBack | None]
Probe = Callable[[User, Any], AsyncIterator[Outcome]]


def _fresh_email() -> str:
    return f"input-{uuid.uuid4().hex[:12]}@example.com"


def _activity_field(name: str) -> Probe:
    async def probe(user: User, value: Any) -> AsyncIterator[Outcome]:
        body = {**ACTIVITY, name: value}
        if name == "external_id":
            body["source"] = "garmin"
        r = await user.send("POST", "/activities", body)
        yield r, _read_activity(user, r, name, value)

    return probe


def _device_data(method: str) -> Probe:
    """device_data holds any JSON object: the payload as a value and (text) as a key."""

    async def probe(user: User, value: Any) -> AsyncIterator[Outcome]:
        shapes = [{"v": value}] + ([{value: 1}] if isinstance(value, str) else [])
        for shape in shapes:
            body = {**ACTIVITY, "device_data": shape}
            if method == "POST":
                r = await user.send("POST", "/activities", body)
            else:
                r = await user.send(method, f"/activities/{user.target['id']}", body)
            yield r, _read_activity(user, r, "device_data", shape)

    return probe


def _read_activity(user: User, r: httpx.Response, name: str, expected: Any) -> ReadBack:
    async def read() -> tuple[Any, Any]:
        return (await user.activity(r.json()["id"]))[name], expected

    return read


def _replace_field(name: str) -> Probe:
    async def probe(user: User, value: Any) -> AsyncIterator[Outcome]:
        body = {**ACTIVITY, name: value}
        if name == "external_id":  # not the POST probe's source: no clash with its rows
            body["source"] = "apple"
        r = await user.send("PUT", f"/activities/{user.target['id']}", body)
        yield r, _read_activity(user, r, name, value)

    return probe


async def _patch_activity(user: User, value: Any) -> AsyncIterator[Outcome]:
    """A merge patch of the activity: the payload as notes, in device_data, and as a key."""
    patches: list[tuple[dict[str, Any], str]] = [({"notes": value}, "notes")]
    patches.append(({"device_data": {"v": value}}, "device_data"))
    if isinstance(value, str):
        patches.append(({value: 1}, ""))  # an unknown top-level key: refused
    for patch, name in patches:
        before = await user.activity(user.target["id"])
        r = await user.send("PATCH", f"/activities/{user.target['id']}", patch)
        if name:
            yield r, _read_activity(user, r, name, merge_patch(before, patch)[name])
        else:
            yield r, None


async def _import_file(user: User, value: Any) -> AsyncIterator[Outcome]:
    if isinstance(value, Raw):
        data = value.data
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
    else:
        data = json.dumps(value).encode()
    files = {"file": ("upload.gpx", data, "application/gpx+xml")}
    yield await user.client.post("/activities/import", files=files, headers=user.headers), None


def _public(path: str, base: Callable[[User], dict[str, Any]], name: str) -> Probe:
    """An unauthenticated auth route; nothing it stores can be read back by the caller."""

    async def probe(user: User, value: Any) -> AsyncIterator[Outcome]:
        yield await user.send("POST", path, {**base(user), name: value}, auth=False), None

    return probe


def _authed(method: str, path: str, base: dict[str, Any], name: str) -> Probe:
    async def probe(user: User, value: Any) -> AsyncIterator[Outcome]:
        yield await user.send(method, path, {**base, name: value}), None

    return probe


def _profile(name: str) -> Probe:
    async def probe(user: User, value: Any) -> AsyncIterator[Outcome]:
        r = await user.send("PUT", "/me/profile", {name: value})

        async def read() -> tuple[Any, Any]:
            return (await user.me())["profile"][name], value

        yield r, read

    return probe


async def _preferences(user: User, value: Any) -> AsyncIterator[Outcome]:
    patches = [{"v": value}] + ([{value: "k"}] if isinstance(value, str) else [])
    for patch in patches:
        before = (await user.me())["profile"]["preferences"]
        r = await user.send("PUT", "/me/preferences", patch)

        async def read(before: Any = before, patch: Any = patch) -> tuple[Any, Any]:
            return (await user.me())["profile"]["preferences"], merge_patch(before, patch)

        yield r, read


async def _new_password(user: User, value: Any) -> AsyncIterator[Outcome]:
    r = await user.send(
        "PUT", "/me/password", {"current_password": user.password, "new_password": value}
    )
    if r.status_code == 200:  # every earlier token is revoked: carry on with the new one
        user.password = value
        user.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def read() -> tuple[Any, Any]:
        login = await user.send(
            "POST", "/auth/login", {"email": user.email, "password": value}, auth=False
        )
        return login.status_code, 200

    yield r, read


PROBES: dict[tuple[str, str, str], Probe] = {
    **{
        ("POST", "/activities", name): _activity_field(name)
        for name in ("activity_type", "started_at", "notes", "source", "external_id")
    },
    ("POST", "/activities", "device_data"): _device_data("POST"),
    **{
        ("PUT", "/activities/{activity_id}", name): _replace_field(name)
        for name in ("activity_type", "started_at", "notes", "source", "external_id")
    },
    ("PUT", "/activities/{activity_id}", "device_data"): _device_data("PUT"),
    ("PATCH", "/activities/{activity_id}", "*"): _patch_activity,
    ("POST", "/activities/import", "file"): _import_file,
    ("POST", "/auth/register", "email"): _public(
        "/auth/register", lambda u: {"password": PASSWORD}, "email"
    ),
    ("POST", "/auth/register", "password"): _public(
        "/auth/register", lambda u: {"email": _fresh_email()}, "password"
    ),
    ("POST", "/auth/login", "email"): _public(
        "/auth/login", lambda u: {"password": PASSWORD}, "email"
    ),
    ("POST", "/auth/login", "password"): _public(
        "/auth/login", lambda u: {"email": _fresh_email()}, "password"
    ),
    ("POST", "/auth/forgot-password", "email"): _public(
        "/auth/forgot-password", lambda u: {}, "email"
    ),
    ("POST", "/auth/resend-verification", "email"): _public(
        "/auth/resend-verification", lambda u: {}, "email"
    ),
    ("POST", "/auth/verify-email", "token"): _public("/auth/verify-email", lambda u: {}, "token"),
    ("POST", "/auth/reset-password", "token"): _public(
        "/auth/reset-password", lambda u: {"new_password": PASSWORD}, "token"
    ),
    ("POST", "/auth/reset-password", "new_password"): _public(
        "/auth/reset-password", lambda u: {"token": "x" * 43}, "new_password"
    ),
    ("POST", "/auth/refresh", "refresh_token"): _public(
        "/auth/refresh", lambda u: {}, "refresh_token"
    ),
    ("POST", "/auth/otp/request", "channel"): _public(
        "/auth/otp/request", lambda u: {"identifier": _fresh_email()}, "channel"
    ),
    ("POST", "/auth/otp/request", "identifier"): _public(
        "/auth/otp/request", lambda u: {"channel": "email"}, "identifier"
    ),
    ("POST", "/auth/otp/verify", "identifier"): _public(
        "/auth/otp/verify", lambda u: {"code": "123456"}, "identifier"
    ),
    ("POST", "/auth/otp/verify", "code"): _public(
        "/auth/otp/verify", lambda u: {"identifier": u.email}, "code"
    ),
    ("POST", "/auth/oauth/exchange", "code"): _public(
        "/auth/oauth/exchange", lambda u: {"code_verifier": "v" * 43}, "code"
    ),
    ("POST", "/auth/oauth/exchange", "code_verifier"): _public(
        "/auth/oauth/exchange", lambda u: {"code": "x" * 20}, "code_verifier"
    ),
    ("PUT", "/me/profile", "display_name"): _profile("display_name"),
    ("PUT", "/me/profile", "preferred_units"): _profile("preferred_units"),
    ("PUT", "/me/profile", "phone_number"): _profile("phone_number"),
    ("PUT", "/me/preferences", "*"): _preferences,
    ("PUT", "/me/password", "current_password"): _authed(
        "PUT", "/me/password", {"new_password": "another long secret"}, "current_password"
    ),
    ("PUT", "/me/password", "new_password"): _new_password,
    ("DELETE", "/me", "password"): _authed("DELETE", "/me", {}, "password"),
    ("DELETE", "/me", "code"): _authed("DELETE", "/me", {}, "code"),
    ("POST", "/me/phone/verify", "code"): _authed("POST", "/me/phone/verify", {}, "code"),
}


@pytest.fixture(scope="module")
async def api(stack, tmp_path_factory):
    """A gateway of its own, so these few thousand requests from 127.0.0.1 neither hit the
    per-client default limit nor eat the budget of the other e2e tests."""
    processes = ServiceProcesses(tmp_path_factory.mktemp("attacks-input-gateway"))
    try:
        config = await processes.start_beside(
            stack, "gateway", extra_env={"RATE_LIMIT_DEFAULT": "1000000/minute"}
        )
        async with httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as client:
            yield client
    finally:
        processes.stop_all()


async def _signup(client: httpx.AsyncClient, smtp_server) -> User:
    email = _fresh_email()
    r = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 202
    mail = await smtp_server.wait_for(email)
    r = await client.post("/auth/verify-email", json={"token": TOKEN.search(mail.text()).group(1)})
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    sentinel = {**ACTIVITY, "notes": "keep me", "device_data": {"laps": [1, 2, 3]}}
    made = await client.post("/activities", json=sentinel, headers=headers)
    target = await client.post("/activities", json=ACTIVITY, headers=headers)
    prefs = await client.put("/me/preferences", json={"keep": "me"}, headers=headers)
    assert (made.status_code, target.status_code, prefs.status_code) == (201, 201, 200)
    sid = jwt.decode(access, options={"verify_signature": False})["sid"]
    return User(client, email, PASSWORD, headers, sid, made.json(), target.json())


@pytest.fixture(scope="module")
async def user(api, smtp_server) -> User:
    """One user for the probes that leave its credentials alone."""
    return await _signup(api, smtp_server)


# Probes that change the password or count failed password checks (10 per account per
# 15 minutes, then 429) get a user of their own.
OWN_USER = {
    ("PUT", "/me/password", "current_password"),
    ("PUT", "/me/password", "new_password"),
    ("DELETE", "/me", "password"),
    ("DELETE", "/me", "code"),
}


def check_answer(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, (what, r.status_code, r.text[:300])
    if r.status_code >= 400:
        body = r.json()
        assert {"error", "code"} <= set(body) <= {"error", "code", "details"}, (what, body)
        assert isinstance(body["error"], str), (what, body)
        assert CODE.match(body["code"]), (what, body)
        if r.status_code == 422:
            assert body["code"] == "validation_error" or body["code"].startswith("invalid_")
        if "details" in body and body["code"] == "validation_error":
            assert all(set(d) == {"field", "message"} for d in body["details"]), (what, body)


async def check_intact(user: User) -> None:
    """The user's other data survived whatever the probe sent."""
    assert await user.activity(user.sentinel["id"]) == user.sentinel
    me = await user.me()
    assert me["email"] == user.email
    assert me["profile"]["preferences"].get("keep") == "me"


def _accepts_text(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return _accepts_text(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "anyOf" in schema or "oneOf" in schema:
        return any(_accepts_text(s, components) for s in schema.get("anyOf", schema.get("oneOf")))
    return schema.get("type") in (None, "string", "object")


def _text_fields(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    components = document["components"]["schemas"]
    found = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                schema = content["schema"]
                if "$ref" in schema:
                    schema = components[schema["$ref"].rsplit("/", 1)[1]]
                properties = schema.get("properties")
                if properties is None:  # a JSON merge patch: any member
                    found.add((method.upper(), path, "*"))
                    continue
                for name, prop in properties.items():
                    if _accepts_text(prop, components):
                        found.add((method.upper(), path, name))
    return found


async def test_every_text_field_has_a_probe(api):
    document = (await api.get("/openapi.json")).json()
    assert _text_fields(document) == set(PROBES)


@pytest.mark.parametrize("target", PROBES, ids=lambda t: f"{t[0]} {t[1]} {t[2]}")
async def test_hostile_values_in_a_body_field(api, smtp_server, user, target):
    if target in OWN_USER:
        user = await _signup(api, smtp_server)
    probe = PROBES[target]
    for name, value in PAYLOADS.items():
        async for r, read in probe(user, value):
            what = f"{target} {name}"
            check_answer(r, what)
            if r.status_code < 300 and read is not None:
                stored, expected = await read()
                assert stored == expected, what
    await check_intact(user)


def _sanitise_for_header(value: str) -> bytes:
    # HTTP cannot carry CR, LF or NUL in a header at all; the rest goes as UTF-8 bytes.
    data = value.encode("utf-8", "surrogatepass")
    return bytes(b if b >= 0x20 or b == 0x09 else 0x3F for b in data if b != 0x7F)


def _as_text(value: Any) -> str:
    if isinstance(value, Raw):
        return value.data.decode("latin-1")
    return value if isinstance(value, str) else json.dumps(value)


BASE_BODIES: dict[tuple[str, str], Callable[[User], Any]] = {
    ("POST", "/activities"): lambda u: ACTIVITY,
    ("PUT", "/activities/{activity_id}"): lambda u: ACTIVITY,
    ("PATCH", "/activities/{activity_id}"): lambda u: {"notes": "patched"},
}
PATH_DEFAULTS: dict[str, Callable[[User], str]] = {
    "activity_id": lambda u: u.target["id"],
    "provider": lambda u: "google",
    "session_id": lambda u: u.sid,
}


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_hostile_values_in_every_parameter(api, user, payload):
    """Every path, query and header parameter the API declares, with the payload as its
    value (percent-encoded where it goes into the URL) and the others at sane defaults."""
    document = (await api.get("/openapi.json")).json()
    # httpx refuses URLs over 64 KiB: a URL carries the first 4,096 characters of a long
    # payload (up to 12 once percent-encoded).
    text = _as_text(PAYLOADS[payload])[:4096]
    tried = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                url = path
                for name, default in PATH_DEFAULTS.items():
                    value = text if name == parameter["name"] else default(user)
                    url = url.replace(
                        "{" + name + "}", quote(value.encode("utf-8", "surrogatepass"), safe="")
                    )
                assert "{" not in url, f"no default for a path parameter of {path}"
                headers: dict[str, Any] = dict(user.headers)
                if parameter["in"] == "query":
                    url += "?" + parameter["name"] + "="
                    url += quote(text.encode("utf-8", "surrogatepass"), safe="")
                elif parameter["in"] == "header":
                    headers[parameter["name"]] = _sanitise_for_header(text)
                body = BASE_BODIES.get((method.upper(), path))
                content = encode(body(user)) if body else None
                if content:
                    headers["content-type"] = "application/json"
                r = await api.request(method.upper(), url, content=content, headers=headers)
                check_answer(r, f"{method.upper()} {path} {parameter['name']} {payload}")
                tried += 1
    assert tried > 20
    await check_intact(user)
