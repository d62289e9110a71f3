"""The victim's hashing page: a one-time link per case, her pictures and videos hashed in her own browser, only
the hashes sent (issue 22)."""
