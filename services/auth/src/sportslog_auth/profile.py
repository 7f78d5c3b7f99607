"""The signed-in user's own account: /me, profile, preferences, deletion."""

from __future__ import annotations

import json
from typing import Any

from sportslog_auth.credentials import Credentials
from sportslog_auth.errors import InvalidCode, ReauthenticationRequired, UserNotFound
from sportslog_auth.events import emit
from sportslog_auth.otp import OneTimeCodes
from sportslog_auth.queries import profiles as profile_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import MeResponse, ProfileOut, ProfileUpdate
from sportslog_auth.sessions import CurrentUser
from sportslog_auth.throttle import Throttle
from sportslog_common.db import Pool
from sportslog_common.events import UserDeleted
from sportslog_common.merge_patch import invalid, merge_patch

MAX_PREFERENCES_BYTES = 16 * 1024


class Profiles:
    def __init__(
        self, pool: Pool, throttle: Throttle, credentials: Credentials, codes: OneTimeCodes
    ) -> None:
        self._pool = pool
        self._throttle = throttle
        self._credentials = credentials  # deletion confirms with the password
        self._codes = codes  # or, without one, with a fresh sign-in code

    async def get_me(self, user: CurrentUser) -> MeResponse:
        async with self._pool.acquire() as conn:
            me = await profile_sql.get_me(conn, user.id)
        if me is None:
            raise UserNotFound()
        return MeResponse(
            id=me.id,
            email=me.email,
            email_verified=me.email_verified,
            created_at=me.created_at,
            auth_methods=(["password"] if me.has_password else []) + list(me.providers),
            profile=ProfileOut(
                display_name=me.display_name,
                preferred_units=me.preferred_units,
                phone_number=me.phone_number,
                phone_verified=me.phone_verified,
                preferences=me.preferences,
            ),
        )

    async def update_profile(self, user: CurrentUser, body: ProfileUpdate) -> MeResponse:
        changes = body.model_dump(include=body.model_fields_set)
        async with self._pool.acquire() as conn, conn.transaction():
            number = changes.get("phone_number")
            if number is not None and number != await profile_sql.lock_phone_number(conn, user.id):
                # Each new number is a target for verification SMS: 3 a day (DESIGN.md §9).
                attempt = (self._throttle.rules.phone_change, str(user.id))
                await self._throttle.begin(conn, [attempt])
            await profile_sql.update_profile(conn, user.id, changes)
        return await self.get_me(user)

    async def patch_preferences(self, user: CurrentUser, patch: dict[str, Any]) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            current = await profile_sql.lock_preferences(conn, user.id)
            if current is None:
                raise UserNotFound()
            merged: dict[str, Any] = merge_patch(current, patch)
            size = len(json.dumps(merged, separators=(",", ":")).encode())
            if size > MAX_PREFERENCES_BYTES:
                raise invalid(
                    f"Preferences patch would make preferences {size} bytes,"
                    f" over {MAX_PREFERENCES_BYTES}"
                )
            await profile_sql.set_preferences(conn, user.id, merged)
        return merged

    async def delete_account(
        self, user: CurrentUser, password: str | None, code: str | None
    ) -> None:
        has_password = await self._credentials.confirm_password(user, password)
        if not has_password and code is None:
            # A password-less account confirms with a fresh code (POST /auth/otp/request).
            raise ReauthenticationRequired()
        deleted = False
        async with self._pool.acquire() as conn, conn.transaction():
            # A wrong code's attempt is counted when this transaction commits.
            if has_password or await self._codes.consume_fresh_code(conn, user.id, code or ""):
                email = await user_sql.delete_user(conn, user.id)
                if email is None:
                    raise UserNotFound()
                await emit(conn, UserDeleted(user_id=user.id, email=email))
                deleted = True
        if not deleted:
            raise InvalidCode()
