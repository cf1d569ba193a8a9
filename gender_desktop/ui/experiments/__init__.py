"""The Experiments tab: every run of the workspace, compared."""
