# `make up` only: the demo provider's `auditor` account joins the `auditors` group (auditor role).
c = get_config()  # noqa: F821 (injected by traitlets)
c.JupyterHub.load_groups.update({"auditors": {"users": ["auditor"]}})
