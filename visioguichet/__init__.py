"""Composition package: settings, CLI, app wiring and the join-token format.

It is the only package that imports ``sfu``, ``signaling`` and ``booking_api`` together.
"""
