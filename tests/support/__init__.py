"""Helpers shared by the test tiers: a real hub process, Docker cleanup, free ports."""
