"""`hds doctor`: the service's health on this host, each problem with what to do."""

from __future__ import annotations

import argparse
import json

from .. import settings
from ..deployment import Deployment
from .doctor import examine
from .probes import HostProbe


def add_commands(commands) -> None:
    """Add `doctor` to the `hds` command's subcommands."""
    doctor = commands.add_parser(
        "doctor", help="check the service's health and say what to do (as root on the host)"
    )
    doctor.add_argument("--json", action="store_true", help="the findings as JSON")
    doctor.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print every finding; exit 1 when any is a problem."""
    config = settings.load(Deployment(state_dir=args.state_dir).settings_file)
    config.Deployment.state_dir = args.state_dir
    probe = HostProbe(config)
    findings = examine(probe, probe.thresholds())
    problems = sum(not f.ok for f in findings)
    if args.json:
        print(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        print("\n".join(f.line() for f in findings))
        print(f"\n{problems} problem(s)" if problems else "\nall checks passed")
    return 1 if problems else 0
