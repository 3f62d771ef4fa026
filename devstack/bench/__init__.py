"""`make bench`, `make bench-rate`: our forwarder against the mParticle SDK and a naive one.

Tables and how to read them: docs/benchmarks.md.

Kept light: benchmark children import from here, and what they import is what they measure.
"""
