"""The composition root: settings, wiring and the ``vyke`` command line."""
