"""The reliability tier: kills, faults, hostile input and servers, secrets, storage failures.

A handful of these run the real commands (the process boundary is the subject); the rest run
in-process.
"""
