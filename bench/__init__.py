"""Benchmarks: scripts that measure speed, memory and quality and print the figures. Never run by tests."""
