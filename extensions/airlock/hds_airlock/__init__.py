"""Jupyter HDS airlock: researchers ask, from JupyterLab, for results to leave the project."""

from .app import AirlockApp

__version__ = "0.1.0"


def _jupyter_server_extension_points():
    return [{"module": "hds_airlock", "app": AirlockApp}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "@jupyter-hds/airlock"}]
