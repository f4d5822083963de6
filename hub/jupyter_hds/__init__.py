"""Jupyter HDS: the hub side of a JupyterHub distribution for sensitive health data."""

__version__ = "0.1.0"
