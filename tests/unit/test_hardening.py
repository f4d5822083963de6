"""Container hardening wins over whatever the operator's settings ask for."""

from __future__ import annotations

import pytest

from jupyter_hds.projects.hardening import Hardening

ALLOWED = frozenset({"/srv/datasets/a", "/srv/projects/a/shared", "/srv/projects/a/users/u"})


def create_kwargs(**host_config):
    return {"image": "x", "host_config": {"Memory": 4 * 1024**3, **host_config}}


def test_hardening_is_forced_over_operator_settings():
    kwargs = Hardening(mount_sources=ALLOWED, scratch_dirs=("/home/jovyan/.local",)).apply(
        create_kwargs(CapAdd=["SYS_ADMIN"], Privileged=True, PidMode="host", ReadonlyRootfs=False)
    )
    host = kwargs["host_config"]
    assert kwargs["user"] == "1000:1000"
    assert host["CapDrop"] == ["ALL"] and "CapAdd" not in host
    assert host["Privileged"] is False and "PidMode" not in host
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["ReadonlyRootfs"] is True and host["PidsLimit"] == 512
    assert host["MemorySwap"] == host["Memory"]
    assert set(host["Tmpfs"]) == {"/tmp", "/home/jovyan/.local"}
    assert "uid=1000" in host["Tmpfs"]["/home/jovyan/.local"]


@pytest.mark.parametrize(
    "case_id, host_config",
    [
        ("docker-socket-bind", {"Binds": ["/var/run/docker.sock:/var/run/docker.sock:rw"]}),
        ("docker-socket-mount", {"Mounts": [{"Type": "bind", "Source": "/run/docker.sock", "Target": "/s"}]}),
        ("host-root", {"Binds": ["/:/host:ro"]}),
        ("other-dataset", {"Mounts": [{"Type": "bind", "Source": "/srv/datasets/b", "Target": "/d"}]}),
        ("named-volume", {"Mounts": [{"Type": "volume", "Source": "anything", "Target": "/v"}]}),
    ],
)  # fmt: skip
def test_mounts_other_than_the_projects_are_refused(case_id, host_config):
    with pytest.raises(PermissionError, match="refusing to mount"):
        Hardening(mount_sources=ALLOWED).apply(create_kwargs(**host_config))


def test_project_mounts_and_tmpfs_pass():
    mounts = [{"Type": "bind", "Source": s, "Target": "/x"} for s in ALLOWED]
    mounts.append({"Type": "tmpfs", "Target": "/scratch"})
    kwargs = Hardening(mount_sources=ALLOWED).apply(create_kwargs(Mounts=mounts))
    assert len(kwargs["host_config"]["Mounts"]) == 4


def test_the_container_log_is_bounded_whatever_the_operator_asks():
    unbounded = {"Type": "json-file", "Config": {}}
    kwargs = Hardening(mount_sources=ALLOWED).apply(create_kwargs(LogConfig=unbounded))
    assert kwargs["host_config"]["LogConfig"] == {
        "Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"},
    }  # fmt: skip
    other = Hardening(log_max_size="1m", log_max_files=2).apply(create_kwargs())
    assert other["host_config"]["LogConfig"]["Config"] == {"max-size": "1m", "max-file": "2"}
