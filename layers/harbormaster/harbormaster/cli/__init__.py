"""The `harbormaster` command (operators' machines only; never imported by handlers)."""
