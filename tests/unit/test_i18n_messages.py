"""The message catalogue: complete, compiled, placeholders intact, and the same English as before."""

from __future__ import annotations

import importlib.util
import re
import string
from pathlib import Path

import pytest

from hds_quota.admission import Occupancy, check, storage_exceeded
from hds_quota.plans import DEFAULT_PLANS, Plan
from hds_quota.usage import Month
from jupyter_hds import i18n
from jupyter_hds.policy.admission import _sentences, _storage
from jupyter_hds.policy.text import Text

ROOT = Path(__file__).resolve().parents[2]


def translations_script():
    spec = importlib.util.spec_from_file_location("translations", ROOT / "scripts/translations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_message_is_translated_and_the_mo_is_the_po_compiled():
    # Needs Babel (a test requirement): without it this fails, it never skips.
    assert translations_script().problems() == []


def fields(message: str) -> set[str]:
    """`{name}` and `%(name)s` placeholders of a message."""
    braces = {name for _, name, _, _ in string.Formatter().parse(message) if name}
    return braces | set(re.findall(r"%\((\w+)\)s", message))


def test_translations_keep_every_placeholder():
    catalog = translations_script().read(translations_script().po_path("fr"), "fr")
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for translated in strings:
            if fields(translated) != fields(ids[0]) and fields(translated) != fields(ids[-1]):
                wrong.append((ids[0], translated))
    assert wrong == []


PLAN = Plan.from_config("public", DEFAULT_PLANS["public"])
MONTH = Month(2026, 11)


@pytest.mark.parametrize(
    "case_id, now",
    [
        ("members", Occupancy(0, PLAN.members + 2, 0.0, None, MONTH)),
        ("one member too many", Occupancy(0, PLAN.members + 1, 0.0, None, MONTH)),
        ("running", Occupancy(PLAN.running_servers, 1, 0.0, None, MONTH)),
        ("compute", Occupancy(0, 1, PLAN.cpu_hours_month + 0.25, None, MONTH)),
        ("storage", Occupancy(0, 1, 0.0, PLAN.storage + 1024**3, MONTH)),
    ],
)
def test_the_hub_says_what_hds_quota_says_in_english(case_id, now):
    exceeded = check(PLAN, now)
    why, fix = _sentences(PLAN, now, exceeded.limit)
    assert (str(why), str(fix)) == (exceeded.why, exceeded.fix)
    french = i18n.language("fr").translate(why)
    assert french != exceeded.why and french.startswith("son offre (public)")


def test_storage_too_small_says_what_hds_quota_says():
    exceeded = storage_exceeded(PLAN, 3 * 1024**3)
    why, fix = _storage(PLAN, 3 * 1024**3)
    assert (str(why), str(fix)) == (exceeded.why, exceeded.fix)


def test_a_running_refusal_reads_naturally_in_both_languages():
    why, _ = _sentences(PLAN, Occupancy(1, 1, 0.0, None, MONTH), "running")
    assert str(why).endswith("and 1 is running")
    assert i18n.language("fr").translate(why).endswith("et 1 est déjà en marche")
    assert isinstance(why, Text)
