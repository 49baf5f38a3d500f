"""Casework: the six-step loop on top of a Store (intake, transitions, dispatch, reading)."""
