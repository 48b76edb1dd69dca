"""Stand-in for MMAudio (tests only): MMAudio's interface, tiny computations, call records."""
