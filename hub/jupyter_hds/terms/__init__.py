"""Terms of use: each person accepts the operator's terms (c.Branding.terms_file) before their
first server start and again when their version changes.

- `store`: who accepted which version (a JSON file in the state folder).
- `handlers`: the page to read and accept them (`/hub/hds/terms`).
- `config`: the subsystem's part of the hub's config.

The spawner refuses a start without an acceptance of the version in force
(`projects.spawner`), and each acceptance is a `terms.accepted` audit event.
"""
