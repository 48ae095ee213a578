"""The installed package: every folder with code is listed under the one `mmcf` namespace."""

from __future__ import annotations

import configparser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("mpd", "models", "ensemble", "submission")


def _listed_packages() -> set[str]:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg", encoding="utf-8")
    return {line.strip() for line in config["options"]["packages"].splitlines() if line.strip()}


def test_every_code_folder_installs_under_mmcf():
    on_disk = {"mmcf"} | {
        "mmcf." + ".".join(init.parent.relative_to(REPO).parts)
        for top in TOP_LEVEL
        for init in (REPO / top).rglob("__init__.py")
    }
    assert _listed_packages() == on_disk


def test_nothing_generic_lands_at_the_top_of_site_packages():
    assert all(name == "mmcf" or name.startswith("mmcf.") for name in _listed_packages())
