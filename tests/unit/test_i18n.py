"""The reader's language: Accept-Language negotiation, the French catalogue, numbers, pages."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from jinja2 import DictLoader, Environment

from jupyter_hds import i18n
from jupyter_hds.policy.refusal import Refused
from jupyter_hds.policy.text import Joined, Plural, Text


@pytest.mark.parametrize(
    "case_id, header, expected",
    [
        ("none", None, "en"),
        ("empty", "", "en"),
        ("french browser", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),
        ("plain fr", "fr", "fr"),
        ("english first", "en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("french preferred by q", "en;q=0.5, fr-CA;q=0.8", "fr"),
        ("unknown languages only", "de-DE,de;q=0.9", "en"),
        ("unknown first, french next", "de, fr;q=0.5", "fr"),
        ("french refused", "fr;q=0, en;q=0.1", "en"),
        ("case and spaces", " FR-fr ; q=1 ", "fr"),
        ("bad quality", "fr;q=x, en", "en"),
        ("wildcard", "*", "en"),
    ],
)
def test_the_language_follows_accept_language(case_id, header, expected):
    assert i18n.negotiate(header) == expected


def test_a_request_without_headers_reads_english():
    assert i18n.for_request(None).code == "en"
    request = SimpleNamespace(headers={"Accept-Language": "fr-FR"})
    assert i18n.for_request(request).code == "fr"


def test_policy_refusals_read_in_french_and_stay_english_for_the_record():
    refused = Refused(
        "not-member",
        Text("Project '{project}' cannot start: {why}.", project="alpha",
             why=Text("{person} is not a member of project {project}", person="cid",
                      project="alpha")),
        Text("An administrator must add {person} to the project's group if they should be.",
             person="cid"),
    )  # fmt: skip
    french = i18n.language("fr")
    assert french.translate(refused) == (
        "Le projet « alpha » ne peut pas démarrer\u00a0: cid n’est pas membre du projet alpha. "
        "Un administrateur doit ajouter cid au groupe du projet si cette personne doit y avoir "
        "accès."
    )
    assert str(refused) == (
        "Project 'alpha' cannot start: cid is not a member of project alpha. An administrator "
        "must add cid to the project's group if they should be."
    )
    assert refused.details()["why"].startswith("Project 'alpha' cannot start: cid is not")


@pytest.mark.parametrize("n, english, french", [
    (0, "0 members", "0 membre"), (1, "1 member", "1 membre"), (2, "2 members", "2 membres"),
])  # fmt: skip
def test_plurals_follow_each_language(n, english, french):
    sentence = Plural("{n} member", "{n} members", n=n)
    assert str(sentence) == english
    assert i18n.language("fr").translate(sentence) == french


def test_joined_parts_are_translated_one_by_one():
    parts = Joined([Text("its settings are invalid"), "a verbatim part"])
    assert (
        i18n.language("fr").translate(parts) == "ses réglages ne sont pas valides; a verbatim part"
    )


def test_a_message_missing_from_the_catalogue_stays_english():
    assert i18n.language("fr").translate(Text("not in any catalogue: {x}", x=1)) == (
        "not in any catalogue: 1"
    )


@pytest.mark.parametrize(
    "code, size, number, expected_size, expected_number",
    [
        ("en", 20 * 1024**3, 2.5, "20 GiB", "2.5"),
        ("fr", 20 * 1024**3, 2.5, "20 Gio", "2,5"),
        ("en", int(1.5 * 1024**3), 200.0, "1.5 GiB", "200"),
        ("fr", 57 * 1024**2, 0.25, "57 Mio", "0,2"),
        ("en", 0, 0, "0", "0"),
    ],
)
def test_sizes_and_numbers_are_written_the_readers_way(
    code, size, number, expected_size, expected_number
):
    language = i18n.language(code)
    assert language.size(size) == expected_size
    assert language.number(number) == expected_number


class Handler:
    """What JupyterHub's templates see of a request: the handler behind `static_url`."""

    def __init__(self, accept_language: str | None):
        self.request = SimpleNamespace(headers={"Accept-Language": accept_language or ""})

    def static_url(self, path: str) -> str:
        return f"/static/{path}"


PAGE = (
    "{{ _('Your projects') }}|{{ _('Sign in with %(service)s', service=name) }}|"
    "{% trans members=n, limit=limit %}{{ members }} member of {{ limit }}{% pluralize members %}"
    "{{ members }} members of {{ limit }}{% endtrans %}|{{ translate(refusal) }}|"
    "{{ page_language().code }}"
)


@pytest.mark.parametrize(
    "case_id, header, expected",
    [
        ("french", "fr-FR,fr;q=0.9",
         "Vos projets|Se connecter avec <b>|3 membres sur 10|Action inconnue.|fr"),
        ("english", "en-US", "Your projects|Sign in with <b>|3 members of 10|Unknown action.|en"),
        ("no header", None, "Your projects|Sign in with <b>|3 members of 10|Unknown action.|en"),
    ],
)  # fmt: skip
def test_pages_render_in_the_language_of_their_request(case_id, header, expected):
    environment = Environment(
        loader=DictLoader({"page.html": PAGE}), extensions=[i18n.EXTENSION], autoescape=True
    )
    html = environment.get_template("page.html").render(
        static_url=Handler(header).static_url, name="<b>", n=3, limit=10,
        refusal=Refused("bad-request", Text("Unknown action.")),
    )  # fmt: skip
    assert html == expected.replace("<b>", "&lt;b&gt;")


def test_a_page_without_a_request_is_english():
    environment = Environment(
        loader=DictLoader({"p": "{{ _('Home') }}"}), extensions=[i18n.EXTENSION], autoescape=True
    )
    assert environment.get_template("p").render() == "Home"


def test_configure_adds_the_extension_once_and_keeps_other_options():
    from traitlets.config import Config

    c = Config()
    c.JupyterHub.jinja_environment_options = {"trim_blocks": True, "extensions": ["x.Y"]}
    i18n.configure(c, None)
    i18n.configure(c, None)
    assert c.JupyterHub.jinja_environment_options == {
        "trim_blocks": True, "extensions": ["x.Y", i18n.EXTENSION],
    }  # fmt: skip
