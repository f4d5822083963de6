"""Projects in the hub: the spawner, the home page, the project guard, the `hds project` command."""
