"""The hub's pages and messages in the reader's language: gettext catalogues, chosen per request.

The catalogue is `locale/<language>/LC_MESSAGES/jupyter_hds.po` (the source, translated by
people) and its compiled `.mo`, both committed: the hub installs and runs from the source
tree or a wheel with no compiler, and `scripts/translations.py check` (a unit test runs it)
refuses a `.mo` that is not the `.po` compiled. The language follows the browser's
`Accept-Language`, English when it names none we have.

Pages: JupyterHub renders with one Jinja environment for every request, so `configure` adds
`PageLanguage` (Jinja's i18n extension) whose `gettext` finds the request of the page being
rendered. Python code (handlers, the spawner) asks `for_request(request)`, and translates
the policy core's sentences (`policy.text.Text`, `Refused`) with the result.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.ext import InternationalizationExtension
from jinja2.runtime import Context
from traitlets.config import Config

from .deployment import Deployment

DOMAIN = "jupyter_hds"
LOCALES = Path(__file__).parent / "locale"
# What the catalogue holds; the first is what people get when they ask for none of these.
LANGUAGES = ("en", "fr")
DEFAULT = LANGUAGES[0]


@dataclass(frozen=True)
class Language:
    """One language's catalogue, and how numbers and sizes are written in it."""

    code: str
    translations: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def translate(self, sentence: Any) -> str:
        """A policy `Text` or `Refused` in this language; anything else as `str()`."""
        if hasattr(sentence, "translate") and not isinstance(sentence, str):
            return sentence.translate(self.gettext, self.ngettext)
        return "" if sentence is None else str(sentence)

    def number(self, value: float, digits: int = 1) -> str:
        """`12.5` / `12,5`; whole numbers without decimals."""
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
        return self.figure(text)

    def figure(self, text: str) -> str:
        """A number already written in English (`0.25`), with this language's decimal mark."""
        return text.replace(".", ",") if self.code == "fr" else text

    def size(self, size: int | float | None) -> str:
        """Bytes for people: `19.5 GiB`, `57 MiB` (`19,5 Gio`, `57 Mio` in French)."""
        if not size:
            return "0"
        giga = size >= 1024**3
        value = size / 1024**3 if giga else size / 1024**2
        unit = ("Gio" if giga else "Mio") if self.code == "fr" else ("GiB" if giga else "MiB")
        return f"{self.number(value, 1 if giga else 0)} {unit}"


@cache
def language(code: str) -> Language:
    """The catalogue of `code` (one of LANGUAGES), English when there is none."""
    if code == DEFAULT:
        return Language(code, gettext.NullTranslations())
    translations = gettext.translation(DOMAIN, LOCALES, languages=[code], fallback=True)
    return Language(code, translations)


@lru_cache(maxsize=512)
def negotiate(accept_language: str | None) -> str:
    """The best of LANGUAGES for an `Accept-Language` header (RFC 9110 §12.5.4)."""
    choices = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if quality > 0 and primary in LANGUAGES:
            choices.append((-quality, position, primary))
    return min(choices)[2] if choices else DEFAULT


def for_request(request: Any) -> Language:
    """The language of a Tornado request (None: the default)."""
    headers = getattr(request, "headers", None)
    return language(negotiate(headers.get("Accept-Language") if headers else None))


def of_page(context: Context) -> Language:
    """The language of the page a template renders.

    JupyterHub hands templates no request: its `template_namespace` (handlers/base.py) has
    `static_url`, the rendering handler's bound method, and that is how a page finds its
    request. Without one (a page rendered outside a request), English.
    """
    handler = getattr(context.get("static_url"), "__self__", None)
    return for_request(getattr(handler, "request", None))


@pass_context
def _gettext(context: Context, message: str) -> str:
    return of_page(context).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return of_page(context).ngettext(singular, plural, n)


@pass_context
def _translate(context: Context, sentence: Any) -> str:
    return of_page(context).translate(sentence)


@pass_context
def _language(context: Context) -> Language:
    return of_page(context)


class PageLanguage(InternationalizationExtension):
    """Jinja's i18n extension (`{% trans %}`, `_()`), in the language of each page's request.

    Templates also get `translate(sentence)` for the policy core's sentences and
    `page_language()` (its `code`, `number()`, `size()`).
    """

    def __init__(self, environment: Environment):
        super().__init__(environment)
        environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
        environment.globals.update(translate=_translate, page_language=_language)


EXTENSION = f"{__name__}.{PageLanguage.__name__}"


def configure(c: Config, deployment: Deployment) -> None:
    """Pages in the reader's language: our Jinja extension in JupyterHub's environment."""
    options = c.JupyterHub.get("jinja_environment_options")
    options = dict(options) if isinstance(options, dict) else {}
    extensions = [e for e in options.get("extensions", []) if e != EXTENSION]
    c.JupyterHub.jinja_environment_options = {**options, "extensions": [*extensions, EXTENSION]}
