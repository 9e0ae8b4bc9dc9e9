"""Experiments that reproduce claims of the source papers; each writes results.json and PNGs."""
