# `make up` only: the demo project, on the synthetic cohort scripts/up.sh generates, and the
# demo hosting-team account.
c.JupyterHub.load_groups.update(
    {
        "hds-admins": {"users": ["admin"]},
        "demo-cohort": {
            "users": ["researcher"],
            "properties": {
                "plan": "public",
                "dataset": "demo-cohort",
                "description": "Synthetic pseudonymised cohort: patients, stays, lab results",
            },
        },
    }
)
