"""Datasets in: import a raw extract as a pseudonymised, versioned, read-only dataset.

`spec` reads the import spec (one rule per column), `rules` writes each rule as DuckDB SQL
(HMAC-SHA256 included), `identifiers` and `checks` decide what may not leave the import,
`keys` keeps one secret per project, `store` lays out `datasets/<name>/<version>/`, and
`importer` runs an import from start to finish; `cli` is the `hds dataset` command.
"""
