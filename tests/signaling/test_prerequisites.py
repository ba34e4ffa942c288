"""Signalling stands on the SFU's Python API (``docs/sfu-api.md``)."""

from __future__ import annotations

import importlib


def test_the_sfu_package_provides_what_signalling_uses() -> None:
    sfu = importlib.import_module("sfu")
    missing = [
        name
        for name in ("Sfu", "SfuConfig", "RoomListenerBase", "QualityReport")
        if not hasattr(sfu, name)
    ]
    assert not missing, f"sfu lacks {missing}: signalling and its tests cannot run"
    importlib.import_module("signaling")
