"""Jupyter HDS plans and quotas: what a project may use, enforced at spawn, run time and on disk."""
