"""Switchboard core: configuration, XEP-0114 services, plugins, storage, hooks."""

__version__ = "0.1.0"
