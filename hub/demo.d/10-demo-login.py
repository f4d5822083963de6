# `make up` only: the loopback-only demo login and its accounts. Not loaded in production.
c.JupyterHub.authenticator_class = "hds-demo"
c.Authenticator.allowed_users = {"researcher", "admin"}
