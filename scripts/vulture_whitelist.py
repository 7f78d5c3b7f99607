"""Names vulture (make lint) cannot see used: read by a framework, never by our code.

vulture counts a name as used wherever it appears as an attribute, so each line below
only names one. Add a name here (with its reason) only when something outside the
code reads it; code that nothing reads is removed instead. The routes, validators
and fixtures are covered by ignore_decorators, pydantic's model_config and aiosmtpd's
handle_* hooks by ignore_names ([tool.vulture] in the root pyproject.toml).
"""

from typing import Any

_: Any = None

# Response-model fields (schemas.py of activities and auth): FastAPI serialises them into
# the JSON bodies; no Python code reads them.
_.notes
_.created_at
_.updated_at
_.last_used_at
_.preferred_units
_.phone_verified
_.auth_methods

# AuthSettings' built-in OAuth providers other than Google: read by name,
# getattr(settings, f"{name}_client_id") and so on (settings.py, oauth/providers.py).
_.facebook_client_id
_.facebook_client_secret
_.facebook_authorize_url
_.facebook_token_url
_.facebook_userinfo_url
_.discord_client_id
_.discord_client_secret
_.discord_authorize_url
_.discord_token_url
_.discord_userinfo_url

# AccessClaims.jti (sportslog_common.jwt): every verified token's claims, kept whole.
_.jti

# Arguments aiosmtpd passes to the SMTP fake's hooks (sportslog_testing.smtp).
_.rcpt_options
_.mechanism

# fit_tool message fields set to build FIT files (services/activities/tests/test_imports.py):
# fit_tool's encoder reads them.
_.manufacturer
_.time_created
_.position_lat
_.position_long
_.altitude
_.heart_rate
_.start_time
_.total_elapsed_time
_.total_distance
_.total_calories
