# `make up` only: an operator's name, logo and terms of use, as a hosting organisation sets them.
from pathlib import Path

c = get_config()  # noqa: F821 (injected by traitlets)

demo = Path(__file__).resolve().parents[2] / "demo"
c.Branding.name = "Jupyter HDS — démo"
c.Branding.logo_file = str(demo / "logo.svg")
c.Branding.terms_file = str(demo / "terms.md")
c.Branding.terms_version = "2026-01"
