"""Sweeps: many training runs of one configuration with some settings varied, on Optuna.

Optuna (the standard, well-kept hyperparameter framework) supplies the samplers (grid, random,
TPE), the pruners (median, Hyperband), the storages several processes or machines share
(SQLite, PostgreSQL, MySQL, a journal file) and the importance evaluators; this package only
maps the app's settings onto it and makes each trial an ordinary run folder.

- :mod:`.space`: the sweep space as the CLI and the GUI write it (``lr=1e-3,1e-4``,
  ``dropout=0.2:0.6``), one table of keys, parsed into :class:`~.space.Param` s. Torch- and
  Optuna-free, so the GUI's dialog can count runs instantly.
- :mod:`.spec`: :class:`~.spec.SweepSpec` (base settings, space, sampler, pruner, storage, study,
  metric), ``count_runs``, ``apply`` (a trial's settings), ``describe`` (its run name).
- :mod:`.events`: what a sweep reports besides the trainer's events.
- :mod:`.storage` / :mod:`.study`: opening, creating and joining a study (``load_spec``
  rebuilds a stored study's sweep).
- :mod:`.runner`: ``run_sweep`` (the trials, one after another, in this process) and
  ``retrain_best`` (the best trial's settings on train + val, evaluated once on test).
- :mod:`.devices` / :mod:`.parallel` / :mod:`.worker`: one trial per GPU (``--devices``): a
  worker process per GPU on the study, each pinned with ``CUDA_VISIBLE_DEVICES``.
- :mod:`.results`: the best trial (on validation), the trials table, parameter importances.
"""
