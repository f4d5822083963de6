"""Sharing project servers between members of the same project: hub endpoints and revocation."""
