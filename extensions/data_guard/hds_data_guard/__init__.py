"""Jupyter HDS data guard: file bytes do not leave the server through the browser."""

from .app import DataGuardApp

__version__ = "0.1.0"


def _jupyter_server_extension_points():
    return [{"module": "hds_data_guard", "app": DataGuardApp}]
