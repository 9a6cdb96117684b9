"""The heavy work, run by workers: analysis, separation, vocal processing and (later) rendering.

The bot never imports this package: torch, librosa and pedalboard load here, in worker
processes. ``jobs.tasks.TASKS`` maps each :class:`core.jobs.JobKind` to its job function.
"""
