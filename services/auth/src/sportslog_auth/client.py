"""Who is calling: what a session records about its client, and what per-IP limits count."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sportslog_auth.throttle import Attempt, Rule


@dataclass(frozen=True)
class ClientInfo:
    user_agent: str | None
    ip: str | None

    def per_ip(self, rule: Rule) -> list[Attempt]:
        return [(rule, self.ip)] if self.ip else []

    def fingerprint(self) -> str:
        """Same user agent and IP, same fingerprint: what "the same client" means for a
        refresh race (DESIGN.md §9). A missing value differs from an empty one."""
        return hashlib.sha256(json.dumps([self.user_agent, self.ip]).encode()).hexdigest()
