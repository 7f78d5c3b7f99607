"""The one routing table: path prefix -> upstream service, and whether a token is required."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    prefix: str
    upstream: str  # "auth" | "activities"
    protected: bool

    def matches(self, path: str) -> bool:
        if self.prefix.endswith("/"):
            return path.startswith(self.prefix)
        return path == self.prefix or path.startswith(self.prefix + "/")

    @property
    def template(self) -> str:
        return self.prefix.rstrip("/") + "/*"


# First match wins, so the protected auth paths come before the public /auth/ prefix.
# Anything unlisted (auth's /internal/ endpoints included) is a 404 at the gateway.
ROUTES: tuple[Route, ...] = (
    Route("/auth/sessions", "auth", protected=True),
    Route("/auth/logout", "auth", protected=True),
    Route("/auth/logout-all", "auth", protected=True),
    Route("/auth/", "auth", protected=False),
    Route("/.well-known/jwks.json", "auth", protected=False),
    Route("/me", "auth", protected=True),
    Route("/activities", "activities", protected=True),
)


def route_for(path: str, raw_path: bytes | None = None) -> Route | None:
    """The route for a request, or None. Paths an upstream could read differently from us
    (dot segments, empty segments, encoded slashes or dots) match nothing: routing and the
    token check must see exactly the path the upstream will serve."""
    if not is_canonical(path, raw_path):
        return None
    return next((route for route in ROUTES if route.matches(path)), None)


def is_canonical(path: str, raw_path: bytes | None) -> bool:
    segments = path.split("/")[1:]
    if any(segment in ("", ".", "..") for segment in segments[:-1]) or segments[-1] in (".", ".."):
        return False
    if raw_path is not None:
        lowered = raw_path.lower()
        if b"%2f" in lowered or b"%2e" in lowered or b"%5c" in lowered or b"\\" in raw_path:
            return False
    return True
