"""Project folders on the host: where they are, who owns them, and names that cannot escape."""

from __future__ import annotations

import os

import pytest

from jupyter_hds.projects.storage import ProjectStorage


def test_member_folders_are_created_owned_and_closed(tmp_path):
    storage = ProjectStorage.for_member(tmp_path, "alpha", "ann")
    uid, gid = os.getuid(), os.getgid()
    storage.ensure(uid, gid)
    storage.ensure(uid, gid)  # twice is harmless
    assert storage.shared == tmp_path / "alpha" / "shared"
    assert storage.work == tmp_path / "alpha" / "users" / "ann"
    for folder in (storage.shared, storage.work):
        assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o770


@pytest.mark.parametrize("slug", ["", ".", "..", "a/b", "../root"])
def test_member_slugs_that_would_escape_are_refused(tmp_path, slug):
    with pytest.raises(ValueError, match="cannot name a folder"):
        ProjectStorage.for_member(tmp_path, "alpha", slug)
