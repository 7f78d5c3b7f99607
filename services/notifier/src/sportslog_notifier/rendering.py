"""Jinja2 templates shipped inside the package: text + autoescaped HTML for email, plain
text for SMS (which must fit one 160-character GSM-7 segment)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

SUBJECTS = {
    "verify_email": "Verify your email for {product}",
    "verify_email_again": "Someone registered again at {product} with your email",
    "verify_email_no_password": "Confirm your email for {product}",
    "account_exists": "You already have a {product} account",
    "reset_password": "Reset your {product} password",
    "password_changed": "Your {product} password was changed",
    "otp_email": "Your {product} sign-in code",
    "otp_locked": "Sign-in with a code is paused on your {product} account",
    "goodbye": "Your {product} account was deleted",
}
SMS_MAX = 160
# The GSM 03.38 basic character set: anything else makes an SMS UCS-2 (70 characters).
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class SmsTooLong(ValueError):
    pass


class Renderer:
    def __init__(self, product: str) -> None:
        self.product = product
        self._env = Environment(
            loader=PackageLoader("sportslog_notifier", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def email(self, template: str, **context: Any) -> RenderedEmail:
        context = {"product": self.product, **context}
        return RenderedEmail(
            subject=SUBJECTS[template].format(product=self.product),
            text=self._env.get_template(f"{template}.txt").render(context),
            html=self._env.get_template(f"{template}.html").render(context),
        )

    def sms(self, template: str, **context: Any) -> str:
        body = (
            self._env.get_template(f"{template}.txt")
            .render({"product": self.product, **context})
            .strip()
        )
        if len(body) > SMS_MAX or not set(body) <= GSM7:
            raise SmsTooLong(f"{template} renders to {len(body)} characters or leaves GSM-7")
        return body
