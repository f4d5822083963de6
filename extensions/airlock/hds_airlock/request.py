"""What a release request must hold before anything is read from disk: its fields, checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FIELDS = ("purpose", "files", "notebook_outputs", "share_with_project", "replaces")
FILE_FIELDS = ("path", "description", "min_cell_size")
NOTEBOOK_OUTPUTS = ("strip", "keep")
MAX_TEXT = 4000  # characters, for the purpose and each description


class RequestRefused(ValueError):
    """A request the server will not send; `message` tells the researcher what to do."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class FileEntry:
    """One file as the researcher named and described it."""

    path: str
    description: str
    min_cell_size: int | None


@dataclass(frozen=True)
class Draft:
    """A request whose fields are valid; its files are not checked on disk yet."""

    purpose: str
    files: tuple[FileEntry, ...]
    notebook_outputs: str
    share_with_project: bool
    replaces: str | None


def parse(body: Any, *, max_files: int) -> Draft:
    """Check the request's fields and return them, or raise RequestRefused saying what to fix."""
    if not isinstance(body, dict):
        raise RequestRefused(
            "The request must be a JSON object with the fields " + ", ".join(FIELDS) + "."
        )
    _no_unknown(body, FIELDS, "the request")
    purpose = _text(body.get("purpose"), "Write the purpose of the release: what the results "
                    "are for, e.g. 'Table 2 of the cohort paper'.", "The purpose")  # fmt: skip
    return Draft(
        purpose=purpose,
        files=_files(body.get("files"), max_files),
        notebook_outputs=_notebook_outputs(body.get("notebook_outputs", "strip")),
        share_with_project=_flag(body.get("share_with_project", False)),
        replaces=_replaces(body.get("replaces")),
    )


def _no_unknown(obj: dict, known: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise RequestRefused(f"Unknown field(s) in {where}: {', '.join(unknown)}. "
                             f"The fields are: {', '.join(known)}.")  # fmt: skip


def _text(value: Any, missing: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestRefused(missing)
    if len(value) > MAX_TEXT:
        raise RequestRefused(f"{name} is {len(value)} characters long; keep it under "
                             f"{MAX_TEXT} and put details in a file of the request.")  # fmt: skip
    return value.strip()


def _files(value: Any, max_files: int) -> tuple[FileEntry, ...]:
    if not isinstance(value, list) or not value:
        raise RequestRefused("The request names no file. Choose at least one file in your "
                             "work or shared folder to release.")  # fmt: skip
    if len(value) > max_files:
        raise RequestRefused(f"A request holds at most {max_files} files; this one has "
                             f"{len(value)}. Split it into several requests.")  # fmt: skip
    files = tuple(_file(item) for item in value)
    seen: set[str] = set()
    for entry in files:
        if entry.path in seen:
            raise RequestRefused(f"{entry.path} is listed twice; list each file once.")
        seen.add(entry.path)
    return files


def _file(item: Any) -> FileEntry:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
        raise RequestRefused("Each file needs a 'path' relative to your home folder, "
                             "e.g. work/table.csv.")  # fmt: skip
    path = item["path"]
    _no_unknown(item, FILE_FIELDS, f"the entry for {path}")
    description = _text(item.get("description"), f"Describe {path}: what the numbers are "
                        "and on which population.", f"The description of {path}")  # fmt: skip
    return FileEntry(path, description, _min_cell_size(item.get("min_cell_size"), path))


def _min_cell_size(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RequestRefused(f"The smallest count for {path} must be a whole number (0 or "
                             "more), or null when the file holds no counts.")  # fmt: skip
    return value


def _notebook_outputs(value: Any) -> str:
    if value not in NOTEBOOK_OUTPUTS:
        raise RequestRefused("notebook_outputs must be 'strip' (release notebooks without "
                             "their outputs) or 'keep'.")  # fmt: skip
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise RequestRefused("share_with_project must be true or false.")
    return value


def _replaces(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RequestRefused("replaces must be the id of an earlier request of yours, or null.")
    return value.strip()
