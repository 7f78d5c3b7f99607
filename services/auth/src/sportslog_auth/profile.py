"""The signed-in user's own account: /me, profile, preferences, deletion."""

from __future__ import annotations

import json
from typing import Any

from sportslog_auth.context import PRODUCER, AuthContext
from sportslog_auth.credentials import confirm_password
from sportslog_auth.errors import (
    InvalidCode,
    ReauthenticationRequired,
    UserNotFound,
)
from sportslog_auth.otp import consume_fresh_code
from sportslog_auth.queries import profiles as profile_sql
from sportslog_auth.schemas import MeResponse, ProfileOut, ProfileUpdate
from sportslog_auth.sessions import CurrentUser
from sportslog_common.events import UserDeleted
from sportslog_common.merge_patch import invalid, merge_patch
from sportslog_common.outbox import write_event

MAX_PREFERENCES_BYTES = 16 * 1024


async def get_me(ctx: AuthContext, user: CurrentUser) -> MeResponse:
    async with ctx.pool.acquire() as conn:
        row = await profile_sql.get_me(conn, user.id)
    if row is None:
        raise UserNotFound()
    methods = (["password"] if row["has_password"] else []) + list(row["providers"])
    return MeResponse(
        id=row["id"],
        email=row["email"],
        email_verified=row["email_verified"],
        created_at=row["created_at"],
        auth_methods=methods,
        profile=ProfileOut(
            display_name=row["display_name"],
            preferred_units=row["preferred_units"],
            phone_number=row["phone_number"],
            phone_verified=row["phone_verified"],
            preferences=row["preferences"],
        ),
    )


async def update_profile(ctx: AuthContext, user: CurrentUser, body: ProfileUpdate) -> MeResponse:
    changes = body.model_dump(include=body.model_fields_set)
    async with ctx.pool.acquire() as conn, conn.transaction():
        number = changes.get("phone_number")
        if number is not None and number != await profile_sql.lock_phone_number(conn, user.id):
            # Each new number is a target for verification SMS: 3 a day (DESIGN.md §9).
            await ctx.throttle.begin(conn, [(ctx.rules.phone_change, str(user.id))])
        await profile_sql.update_profile(conn, user.id, changes)
    return await get_me(ctx, user)


async def patch_preferences(
    ctx: AuthContext, user: CurrentUser, patch: dict[str, Any]
) -> dict[str, Any]:
    async with ctx.pool.acquire() as conn, conn.transaction():
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
    ctx: AuthContext, user: CurrentUser, password: str | None, code: str | None
) -> None:
    has_password = await confirm_password(ctx, user, password)
    if not has_password and code is None:
        # A password-less account confirms with a fresh sign-in code (POST /auth/otp/request).
        raise ReauthenticationRequired()
    deleted = False
    async with ctx.pool.acquire() as conn, conn.transaction():
        # A wrong code's attempt is counted when this transaction commits.
        if has_password or await consume_fresh_code(conn, ctx, user.id, code or ""):
            email = await profile_sql.delete_user(conn, user.id)
            if email is None:
                raise UserNotFound()
            await write_event(conn, UserDeleted(user_id=user.id, email=email), producer=PRODUCER)
            deleted = True
    if not deleted:
        raise InvalidCode()
