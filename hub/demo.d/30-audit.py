# `make up` only: a demo `auditor` account, in the `auditors` group that holds the auditor role.
c = get_config()  # noqa: F821 (injected by traitlets)
c.Authenticator.allowed_users.add("auditor")
c.JupyterHub.load_groups.update({"auditors": {"users": ["auditor"]}})
