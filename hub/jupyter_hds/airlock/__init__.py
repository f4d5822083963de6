"""The airlock on the hub: results leave a project only as reviewed, approved releases."""
