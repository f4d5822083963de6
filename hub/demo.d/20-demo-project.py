# `make up` only: the demo project, on the synthetic cohort scripts/up.sh generates. (The demo
# provider's `hds-admins` group puts the `admin` account in the hosting team at login.)
c.JupyterHub.load_groups.update(
    {
        "demo-cohort": {
            # Two members, so that they can share a server and co-edit (40-demo-collaboration).
            "users": ["researcher", "researcher2"],
            "properties": {
                "plan": "public",
                "dataset": "demo-cohort",
                "description": "Synthetic pseudonymised cohort: patients, stays, lab results",
            },
        },
    }
)
