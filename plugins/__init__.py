"""Switchboard capabilities, one package per plugin."""
