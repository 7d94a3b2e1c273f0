"""Jinja2 rendering of the emails: `<kind>.subject.j2`, `<kind>.txt.j2`, `<kind>.html.j2` in templates/.

HTML is autoescaped (unit names and titles come from spreadsheets); text and subject are not, so
"Tổ chức & Cán bộ" stays readable. Every output is NFC. A missing context key is an error, never an empty
gap in an official email.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from thidua.models.text import fmt_date

TEMPLATES_DIR = Path(__file__).with_name("templates")


def vn_date(value: date | datetime | str | None) -> str:
    """dd/mm/yyyy; ISO strings are accepted because contexts sometimes come from JSON."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return fmt_date(value)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["vn_date"] = vn_date
    return env


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def render_email(kind: str, context: dict[str, Any]) -> tuple[str, str, str | None]:
    """(subject, text, html) for an email kind; html is None when the kind has no html template."""
    env = environment()
    ctx = {key: _nfc(value) if isinstance(value, str) else value for key, value in context.items()}
    subject = env.get_template(f"{kind}.subject.j2").render(ctx)
    text = env.get_template(f"{kind}.txt.j2").render(ctx)
    try:
        html: str | None = env.get_template(f"{kind}.html.j2").render(ctx)
    except TemplateNotFound:
        html = None
    return (
        _nfc(" ".join(subject.split())),
        _nfc(text.strip() + "\n"),
        _nfc(html) if html is not None else None,
    )
