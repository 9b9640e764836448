"""Example forms shipped for the demo and docs."""
