"""Jupyter HDS records: one append-only writer, one event shape, one catalogue of actions.

Imported by the hub and its services (`jupyter_hds`), the usage ledger (`hds_quota`) and
the extensions in users' servers (`hds_data_guard`, `hds_collaboration`): standard library
only, nothing of JupyterHub, Jupyter server or Tornado.

- `journal`: JSON lines appended whole under a lock and fsynced; a torn last line is left
  alone and skipped by readers.
- `actions`: every audit action, its outcomes, who reports it and what it means.
- `events`: the one event shape and its constructor, checked against the catalogue.
- `addresses`: a request's client address, from the proxies the operator trusts only.
"""

__version__ = "0.1.0"
