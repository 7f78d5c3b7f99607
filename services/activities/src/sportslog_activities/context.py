"""What the activities routes need, built once in the lifespan and read through deps.py."""

from __future__ import annotations

from dataclasses import dataclass

from sportslog_activities.importer import Importer
from sportslog_activities.pagination import CursorSigner
from sportslog_activities.settings import ActivitiesSettings
from sportslog_common.db import Pool
from sportslog_common.jwt import JwksVerifier


@dataclass(frozen=True)
class ActivitiesContext:
    settings: ActivitiesSettings
    pool: Pool
    importer: Importer
    cursor_signer: CursorSigner
    verifier: JwksVerifier  # auth's tokens, against auth's key set (JWKS_URL)
