"""Backups of a hub's whole state to a restic repository, and restores that rebuild the service.

`config.Backup` is what an operator sets; `catalogue` reads what the repository holds (plain
Python); `restic` runs the restic command; `staging`, `volumes` and `database` produce
consistent copies; `create` and `restore` are the two procedures; `cli` is `hds backup`.
"""
