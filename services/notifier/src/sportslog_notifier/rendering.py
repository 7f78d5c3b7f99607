"""Jinja2 templates (text + autoescaped HTML) shipped inside the package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


SUBJECTS = {
    "verify_email": "Verify your email for {product}",
    "account_exists": "You already have a {product} account",
}


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
