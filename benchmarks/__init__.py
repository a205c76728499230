"""Reproducible performance runs for Taskweb: `python -m benchmarks [--quick] [--json OUT]`.

Every upstream model is the ScriptedServer or the ScriptedBackend (instant, or with a set
latency), everything runs on loopback, and every loop is bounded, so the figures measure the
app's own cost and a run stops by itself.
"""
