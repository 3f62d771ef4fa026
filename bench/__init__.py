"""The benchmarks, `make bench`, `make bench-rate`, `make bench-outage`: our forwarder against the
mParticle SDK and a naive one. Not shipped: nothing in layers/ or functions/ imports it.

Tables and how to read them: docs/benchmarks.md.

Kept light: benchmark children import from here, and what they import is what they measure.
"""
