# `make up` only: the demo provider's `checker` and `checker2` accounts are output checkers
# (the `output-checker` role reviews release requests at /hub/hds/airlock).
c = get_config()  # noqa: F821 (injected by traitlets)
c.JupyterHub.load_groups.update({"output-checkers": {"users": ["checker", "checker2"]}})
