"""Where a sign-in flow keeps its state, nonce, PKCE verifier and redirect_to between the
redirect to the provider and the callback: a signed cookie (no server-side store, so any
auth replica can finish a flow another began), HttpOnly, SameSite=Lax (the provider's
redirect back is a top-level GET, which Lax lets through), 10 minutes."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from sportslog_auth.oauth.providers import FLOW_SECONDS

COOKIE = "sportslog_oauth"
MAX_COOKIE_BYTES = 3800  # browsers drop cookies over 4 KiB


class FlowCookie:
    def __init__(self, token_hmac_secret: bytes, secure: bool) -> None:
        # A key of its own, derived from the secret every auth replica shares.
        key = hmac.new(token_hmac_secret, b"sportslog.oauth-flow-cookie", hashlib.sha256).digest()
        self._serializer = URLSafeTimedSerializer(key, salt="sportslog.oauth-flow")
        self._secure = secure

    def load(self, request: Request) -> dict[str, Any]:
        """The flows in progress; empty when the cookie is absent, forged or older than 10 min."""
        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > MAX_COOKIE_BYTES:
            return {}
        try:
            data = self._serializer.loads(raw, max_age=FLOW_SECONDS)
        except BadData:
            return {}
        if not isinstance(data, dict):
            return {}
        # Each flow keeps its own 10 minutes: re-signing the cookie for a newer flow must
        # not extend an older one.
        now = time.time()
        return {
            key: flow
            for key, flow in data.items()
            if isinstance(flow, dict)
            and isinstance(flow.get("exp"), int | float)
            and flow["exp"] > now
        }

    def store(self, response: Response, flows: dict[str, Any]) -> None:
        if not flows:
            response.delete_cookie(
                COOKIE, path="/auth", secure=self._secure, httponly=True, samesite="lax"
            )
            return
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(flows),
            max_age=FLOW_SECONDS,
            path="/auth",
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )
