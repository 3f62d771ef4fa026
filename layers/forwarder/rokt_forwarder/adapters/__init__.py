"""The forwarder's edges: every module here does I/O (HTTP, AWS, Lambda's runtime, stdout metrics).

They implement the interfaces of `rokt_forwarder.ports` or feed the core at cold start; the core never
imports this package (tests/unit/test_architecture.py checks it). `rokt_forwarder.runtime` wires them.
"""
