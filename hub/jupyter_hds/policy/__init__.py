"""The policy core: who may use which project, what a plan allows, who may share with whom.

Plain Python with no JupyterHub, Docker or Tornado import, each rule written once. Adapters
(the spawner, hub handlers, services, the `hds` command) read the facts from the hub and
ask these modules; what they decide to refuse is a `Refused`.

- `refusal`: the one refusal type (reason, message, fix, HTTP status).
- `projects`: a project's properties, checked into a `Project`.
- `access`: may this person use this project today (the spawner, the project guard, sharing
  and share revocation all ask it).
- `admission`: may one more server of a project start under its plan.
- `sharing`: may an owner let another member into their project server.
"""
