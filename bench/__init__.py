"""Benchmarks: ``python -m bench`` runs every module here that defines ``run()``.

A benchmark module's ``run()`` returns a list of :class:`bench._table.Table`; the runner
prints them as Markdown. Modules may also write their own results file.
"""
