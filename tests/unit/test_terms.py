"""Terms of use: the operator's settings, who accepted which version, who must accept."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from traitlets.config import Config

from jupyter_hds.branding import Branding, PageBranding, page_branding
from jupyter_hds.deployment import Deployment
from jupyter_hds.terms.check import TermsInForce
from jupyter_hds.terms.store import Acceptances


@pytest.fixture
def terms_file(tmp_path):
    path = tmp_path / "terms.md"
    path.write_text("# Charte\n\nRespecter les données.\n", encoding="utf-8")
    return path


def config(tmp_path, terms_file=None, version="2026-01") -> Config:
    c = Config()
    c.Deployment.state_dir = str(tmp_path / "state")
    if terms_file:
        c.Branding.terms_file = str(terms_file)
        c.Branding.terms_version = version
    return c


def test_no_terms_file_means_nothing_to_accept(tmp_path):
    found = TermsInForce.of(config(tmp_path))
    assert found.terms is None and found.pending("ann") is None


def test_terms_carry_their_version_and_the_files_sha256(tmp_path, terms_file):
    terms = Branding(config=config(tmp_path, terms_file)).terms()
    assert terms.version == "2026-01"
    assert terms.sha256 == hashlib.sha256(terms_file.read_bytes()).hexdigest()
    assert terms.text.startswith("# Charte")


def test_terms_are_read_again_when_the_file_changes(tmp_path, terms_file):
    branding = Branding(config=config(tmp_path, terms_file))
    before = branding.terms().sha256
    terms_file.write_text("# Charte v2\n", encoding="utf-8")
    os.utime(terms_file, ns=(1, 2))  # a different modification time, whatever the clock
    assert branding.terms().sha256 != before


def test_a_terms_file_without_a_version_is_refused(tmp_path, terms_file):
    with pytest.raises(ValueError, match="c.Branding.terms_version is not"):
        Branding(config=config(tmp_path, terms_file, version="")).terms()


@pytest.mark.parametrize("setting", ["terms_file", "logo_file"])
def test_relative_paths_are_refused(setting):
    with pytest.raises(ValueError, match="must be an absolute path"):
        Branding(**{setting: "demo/terms.md"})


def test_a_missing_terms_file_is_an_error_not_no_terms(tmp_path):
    with pytest.raises(FileNotFoundError):
        Branding(config=config(tmp_path, tmp_path / "gone.md")).terms()


def test_acceptances_are_kept_per_person_latest_version(tmp_path):
    store = Acceptances(tmp_path / "state" / "terms-accepted.json")
    assert store.of("ann") is None
    store.accept("ann", "v1", "aa")
    store.accept("ben", "v1", "aa")
    store.accept("ann", "v2", "bb")
    assert store.has_accepted("ann", "v2") and not store.has_accepted("ann", "v1")
    assert store.of("ben").version == "v1"
    on_disk = json.loads(store.path.read_text())
    assert set(on_disk) == {"ann", "ben"} and on_disk["ann"]["sha256"] == "bb"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert not list(store.path.parent.glob("*.partial"))


def test_a_second_reader_sees_an_acceptance_made_by_the_first(tmp_path):
    path = tmp_path / "terms-accepted.json"
    reader, writer = Acceptances(path), Acceptances(path)
    assert reader.of("ann") is None
    writer.accept("ann", "v1", "aa")
    assert reader.has_accepted("ann", "v1")


def test_who_must_accept_follows_the_version_in_force(tmp_path, terms_file):
    c = config(tmp_path, terms_file)
    assert TermsInForce.of(c).not_accepted(["ben", "ann"]) == ["ann", "ben"]
    TermsInForce.of(c).acceptances.accept("ann", "2026-01", "x")
    assert TermsInForce.of(c).pending("ann") is None
    assert TermsInForce.of(c).not_accepted(["ann", "ben"]) == ["ben"]
    c.Branding.terms_version = "2026-02"
    assert TermsInForce.of(c).pending("ann").version == "2026-02"
    assert TermsInForce.of(c).acceptances.path == Deployment(config=c).terms_acceptances


def test_pages_get_the_operator_branding_from_the_final_config(tmp_path, terms_file):
    c = Config()
    branding = page_branding(c)
    assert branding(None) == PageBranding("Jupyter HDS", "logo", False)
    c.merge(config(tmp_path, terms_file))  # as operator fragments are merged after configure
    c.Branding.name = "CHU Exemple"
    c.Branding.logo_file = str(tmp_path / "logo.png")
    assert branding(None) == PageBranding("CHU Exemple", "hds/logo", True)


def test_branding_and_terms_configure_are_idempotent(tmp_path):
    from jupyter_hds import branding
    from jupyter_hds.terms import config as terms

    once, twice = Config(), Config()
    deployment = Deployment(state_dir=str(tmp_path))
    for subsystem in (branding, terms):
        subsystem.configure(once, deployment)
        subsystem.configure(twice, deployment)
        subsystem.configure(twice, deployment)
    assert [h[0] for h in once.JupyterHub.extra_handlers] == ["/hds/logo", "/hds/terms"]
    assert [h[0] for h in twice.JupyterHub.extra_handlers] == ["/hds/logo", "/hds/terms"]
    assert set(twice.JupyterHub.template_vars) == {"hds_branding", "hds_terms_pending"}
    assert once.JupyterHub.template_paths == twice.JupyterHub.template_paths
