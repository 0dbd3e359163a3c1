"""The target tier: target-sqlite-audit in-process on a real SQLite file (``audit`` kit)."""
