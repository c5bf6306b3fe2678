"""MMGP: mesh morphing Gaussian-process regression (Casenave, Staber, Roynard, NeurIPS 2023)."""
