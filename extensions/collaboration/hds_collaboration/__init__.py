"""Jupyter HDS collaboration guard: who may stay in a shared server, and from which origin."""

__version__ = "0.1.0"


def _jupyter_server_extension_points():
    # Imported here so the guest logic (guests.py) can be imported without jupyter_server.
    from .app import CollaborationGuardApp

    return [{"module": "hds_collaboration", "app": CollaborationGuardApp}]
