"""Reliability: concurrent writers, crashes, hostile input and hostile store files (issue 7)."""
