"""Prompt templates, one text file each, with named `{placeholders}`."""
