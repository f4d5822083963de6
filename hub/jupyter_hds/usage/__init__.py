"""Usage in the hub: the usage service (census, compute watch, page) and `hds usage`."""
