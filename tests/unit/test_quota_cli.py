"""`hds usage`: the monthly summary and sessions as a table or CSV, read from the ledger."""

from __future__ import annotations

import json

import pytest

from jupyter_hds.cli import main

G = 1024**3
PUBLIC = {"plan": "public", "price_eur_month": 150, "cpu": 2, "cpu_hours_month": 200,
          "memory": 4 * G, "storage": 20 * G}  # fmt: skip
LEDGER = [
    {"time": "2026-05-04T08:00:00Z", "kind": "start", "project": "cohort", "server": "cohort",
     "user": "ann", **PUBLIC, "members": 2, "storage_used": G},
    {"time": "2026-05-04T11:00:00Z", "kind": "stop", "project": "cohort", "server": "cohort",
     "user": "ann", "reason": "stopped", "storage_used": int(2.5 * G)},
    # Another project's session: what `--project cohort` must leave out.
    {"time": "2026-05-05T09:00:00Z", "kind": "start", "project": "trial", "server": "trial",
     "user": "bob", **PUBLIC, "members": 1, "storage_used": 0},
    {"time": "2026-05-05T10:00:00Z", "kind": "stop", "project": "trial", "server": "trial",
     "user": "bob", "reason": "stopped", "storage_used": 0},
]  # fmt: skip


@pytest.fixture
def usage_dir(tmp_path):
    folder = tmp_path / "usage"
    folder.mkdir()
    (folder / "ledger-2026-05.jsonl").write_text("".join(json.dumps(r) + "\n" for r in LEDGER))
    return str(folder)


def test_summary_table(usage_dir, capsys):
    assert main(["usage", "summary", "--month", "2026-05", "--usage-dir", usage_dir]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Usage in 2026-05 (UTC); CPU-hours = wall time x the plan's CPU limit"
    assert out[1].split() == [
        "project", "plan", "members", "users", "sessions", "server-h", "CPU-h",
        "used/incl.", "peak", "storage/limit", "due", "EUR",
    ]  # fmt: skip
    assert out[2].split() == [
        "cohort", "public", "2", "1", "1", "3.00", "6.00/200", "2.5", "GiB/20", "GiB", "150.00",
    ]  # fmt: skip
    assert out[3].split() == [
        "trial", "public", "1", "1", "1", "1.00", "2.00/200", "0/20", "GiB", "150.00",
    ]  # fmt: skip
    assert out[4:] == ["total due: 300.00 EUR"]


def test_summary_and_sessions_as_csv(usage_dir, capsys):
    assert main(["usage", "summary", "--month", "2026-05", "--csv", "--usage-dir", usage_dir]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        f"2026-05,cohort,public,public,150.0,2,1,1,3.0,6.0,200.0,{int(2.5 * G)},{20 * G}",
        f"2026-05,trial,public,public,150.0,1,1,1,1.0,2.0,200.0,0,{20 * G}",
    ]
    args = ["usage", "sessions", "--month", "2026-05", "--project", "cohort", "--csv"]
    assert main([*args, "--usage-dir", usage_dir]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"cohort,ann,public,2.0,{4 * G},2026-05-04T08:00:00+00:00,2026-05-04T11:00:00+00:00,3.0,6.0"
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["summary", "--month", "May"], "write the month as YYYY-MM"),
        (["summary", "--usage-dir", "/nonexistent"], "no usage ledger at /nonexistent"),
    ],
)
def test_bad_input_is_explained(usage_dir, capsys, args, message):
    if "--usage-dir" not in args:
        args = [*args, "--usage-dir", usage_dir]
    assert main(["usage", *args]) == 2
    assert message in capsys.readouterr().err


def test_volumes_lists_each_projects_volume(tmp_path, capsys):
    assert main(["--state-dir", str(tmp_path), "usage", "volumes"]) == 0
    assert capsys.readouterr().out == f"volumes in {tmp_path}/project-volumes\n"
