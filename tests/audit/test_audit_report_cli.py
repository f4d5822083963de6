"""`hds audit report`: the access report from a shell, its generation put in the record's inbox."""

from __future__ import annotations

import csv
import io

import pytest

from jupyter_hds.audit.inbox import Inbox
from jupyter_hds.audit.intake import new_event
from jupyter_hds.audit.report import CSV_HEADER
from jupyter_hds.cli import main


@pytest.fixture
def month(record, tmp_path):
    """A June 2025 in cohort-a: bob tries six downloads in five minutes, one of them a formula."""
    record.append([
        new_event("dataset.read", "alice", "user", "allowed", project="cohort-a",
                  target="dataset/a.csv", time="2025-06-02T09:00:00.000000Z"),
        *[new_event("download.blocked", "bob", "user", "refused", project="cohort-a",
                    target="=HYPERLINK(\"x\")" if n == 0 else "dataset/a.csv",
                    time=f"2025-06-05T14:0{n}:00.000000Z") for n in range(6)],
    ])  # fmt: skip
    return record.directory


def run(capsys, directory, *args):
    status = main(["--state-dir", str(directory.parent), "audit", "report",
                   "--directory", str(directory), "--project", "cohort-a", *args])  # fmt: skip
    return status, capsys.readouterr().out


def recorded(directory):
    inbox = Inbox(directory)
    return [event for path in inbox.claim() for event in inbox.read(path).events]


def test_the_report_as_text_and_its_generation_recorded(month, capsys, monkeypatch):
    monkeypatch.setenv("SUDO_USER", "dpo-at-shell")
    status, out = run(capsys, month, "--month", "2025-06")
    assert status == 0
    assert "access report: cohort-a, June 2025" in out
    assert "burst of refusals" in out and "6 refused attempts to take data out" in out
    assert any(line.startswith("alice ") and " 1 " in line for line in out.splitlines())
    (event,) = recorded(month)
    assert (event["action"], event["actor"], event["actor_kind"], event["outcome"]) == (
        "audit.access-report", "dpo-at-shell", "admin", "allowed")  # fmt: skip
    assert (event["project"], event["target"], event["details"]["format"]) == (
        "cohort-a", "2025-06", "command")  # fmt: skip


def test_the_report_as_csv_is_safe_in_a_spreadsheet(month, capsys):
    status, out = run(capsys, month, "--month", "2025-06", "--csv")
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_HEADER
    refusals = [row for row in rows if row[2] == "refusal"]
    assert len(refusals) == 6 and all(row[9] == "burst of refusals" for row in refusals)
    assert refusals[0][10].startswith("'=HYPERLINK")


def test_a_bad_month_records_nothing(month, capsys):
    with pytest.raises(SystemExit, match="write a month as YYYY-MM"):
        run(capsys, month, "--month", "June")
    assert recorded(month) == []


def test_no_report_when_its_generation_cannot_be_recorded(month, capsys):
    (month / "inbox").write_text("not a folder")  # what a read-only copy would do to a writer
    with pytest.raises(SystemExit, match="cannot record the report's generation"):
        run(capsys, month, "--month", "2025-06")
    assert "access report" not in capsys.readouterr().out
