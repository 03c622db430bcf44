"""Kept only for tests/test_cli.py, which still imports the writer from here: delete this file once it imports
``dina_core.simulate.sensorium_folder`` instead."""

from dina_core.simulate.sensorium_folder import NAME, write_sensorium_folder, zip_folder

__all__ = ["NAME", "write_sensorium_folder", "zip_folder"]
