"""The Train panel: settings form, live curves, run control."""
