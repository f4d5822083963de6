"""The audit record: an append-only, hash-chained log of who did what, kept outside users' servers.

Flow: the hub (and users' servers, through the hub's API: `handlers.py`, checked by
`intake.py`, limited by `limits.py`, numbered in `serials.py`) drop events in an inbox
(`inbox.py`); the audit service (`service.py`) is the only writer of the chained record
(`writer.py`), verifies it (`verify.py`), queries it with DuckDB (`query.py`) and serves
the read-only audit page. `hds audit verify` checks the chain from the command line. Events
have the platform's one shape and catalogue of actions (`hds_records`).
"""
