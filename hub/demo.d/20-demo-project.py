# `make up` only: the demo project. Its dataset is imported for it by scripts/up.sh once the
# hub runs (an import needs its project), from a synthetic raw extract: the whole path a
# hosting team follows. (The demo provider's `hds-admins` group puts `admin` in the hosting
# team at login.)
import os
from pathlib import Path

c = get_config()  # noqa: F821 (injected by traitlets)

properties = {
    "plan": "public",
    "description": "Synthetic pseudonymised cohort: patients, stays, lab results",
}
if any((Path(os.environ["HDS_STATE_DIR"]) / "datasets" / "demo-cohort").glob("[1-9]*")):
    properties["dataset"] = "demo-cohort"  # imported at an earlier `make up`
c.JupyterHub.load_groups.update(
    {
        "demo-cohort": {
            # Two members, so that they can share a server and co-edit (40-demo-collaboration).
            "users": ["researcher", "researcher2"],
            "properties": properties,
        },
    }
)
# The token scripts/up.sh uses to import the demo dataset and name it in the project.
c.JupyterHub.services.append(
    {"name": "demo-setup", "api_token": os.environ["HDS_DEMO_SETUP_TOKEN"]}
)
c.JupyterHub.load_roles.append(
    {"name": "demo-setup", "scopes": ["list:groups", "read:groups", "groups"],
     "services": ["demo-setup"]}
)  # fmt: skip
