"""Run folders: every training's config, metrics, checkpoints and log, resumable."""
