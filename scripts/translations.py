"""The hub's message catalogue: extract, merge into each language's .po, compile the .mo, check.

    python scripts/translations.py update    # new and changed messages into every .po
    python scripts/translations.py compile   # every .po to its .mo (committed beside it)
    python scripts/translations.py check     # exit 1 if a message lacks a translation or a
                                             # .mo is not its .po compiled

Messages come from the hub's templates (`_()`, `{% trans %}`) and Python code (`Text`,
`Plural` of `policy.text`; `gettext`). Needs Babel (a test requirement, not the hub's).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hub" / "jupyter_hds"
LOCALES = PACKAGE / "locale"
DOMAIN = "jupyter_hds"
LANGUAGES = ("fr",)  # English is the messages themselves
METHODS = [
    ("**/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
KEYWORDS = {
    "Text": None,
    "Plural": (1, 2),
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
}
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def template() -> Catalog:
    """Every message of the hub, with where it is used."""
    catalog = Catalog(project="Jupyter HDS", domain=DOMAIN, fuzzy=False)
    found = extract_from_dir(
        PACKAGE, METHODS, options_map=OPTIONS, keywords=KEYWORDS, strip_comment_tags=True
    )
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(f"hub/jupyter_hds/{filename}", lineno)],
                    auto_comments=comments, context=context)  # fmt: skip
    return catalog


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(path: Path, language: str) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream, locale=language, domain=DOMAIN)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        # File names without line numbers: moving a message does not change the catalogue.
        write_po(stream, catalog, width=100, ignore_obsolete=True, sort_output=True,
                 include_lineno=False)  # fmt: skip


def compiled(catalog: Catalog) -> bytes:
    stream = io.BytesIO()
    write_mo(stream, catalog)
    return stream.getvalue()


def update() -> None:
    messages = template()
    for language in LANGUAGES:
        path = po_path(language)
        catalog = read(path, language) if path.exists() else Catalog(locale=language,
                                                                     domain=DOMAIN)  # fmt: skip
        messages.creation_date = catalog.creation_date  # no churn when nothing changed
        catalog.update(messages, no_fuzzy_matching=True)
        write(catalog, path)
        print(f"{path.relative_to(ROOT)}: {len(catalog)} messages")


def compile_all() -> None:
    for language in LANGUAGES:
        path = po_path(language)
        path.with_suffix(".mo").write_bytes(compiled(read(path, language)))
        print(f"{path.with_suffix('.mo').relative_to(ROOT)} written")


def problems() -> list[str]:
    """What is missing or stale, one line each (empty when all is well)."""
    found = []
    wanted = {(m.id if isinstance(m.id, str) else m.id[0]) for m in template() if m.id}
    for language in LANGUAGES:
        path = po_path(language)
        if not path.exists():
            found.append(f"{path}: missing; run `python scripts/translations.py update`")
            continue
        catalog = read(path, language)
        ids = {(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}
        found += [f"{language}: not in the catalogue: {m!r}" for m in sorted(wanted - ids)]
        for message in catalog:
            if message.id and (message.fuzzy or not _translated(message.string)):
                found.append(f"{language}: not translated: {message.id!r}")
        mo = path.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled(catalog):
            found.append(f"{mo}: not the .po compiled; run `python scripts/translations.py "
                         "compile`")  # fmt: skip
    return found


def _translated(string) -> bool:
    return all(string) if isinstance(string, tuple | list) else bool(string)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        found = problems()
        print("\n".join(found) or "translations: complete and compiled")
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
