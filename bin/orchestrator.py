#!/usr/bin/env python3
"""The original tool's entry point, kept so its scripts run unchanged.

`python3 orchestrator.py --benchmark-id ... --executor-vm ...` (as run.sh and kokoro_run.sh call it)
runs `gcsfuse-bench orchestrator` with the same arguments: the original's flags, meanings and defaults.
Link or copy this file to where the scripts expect orchestrator.py; it finds the repo through the link.
"""
import os
import sys

cli = os.path.join(os.path.dirname(os.path.realpath(__file__)), "gcsfuse-bench")
os.execv(cli, [cli, "orchestrator", *sys.argv[1:]])
