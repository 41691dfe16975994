"""Ingest: read paper sources (Daily Papers listings, JSONL, CSV, BEIR) and write the index."""
